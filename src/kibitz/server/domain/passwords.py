"""Argon2id password hashing, run in worker threads so a login storm never stalls the loop."""

from __future__ import annotations

import anyio
import anyio.to_thread
from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Argon2Hasher"]


class Argon2Hasher:
    """Implements ``ports.PasswordHasher``; cost parameters come from settings."""

    def __init__(
        self,
        *,
        time_cost: int = 3,
        memory_kib: int = 65_536,
        parallelism: int = 4,
        threads: int = 2,
    ) -> None:
        self._hasher = _Argon2(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._limiter = anyio.CapacityLimiter(threads)

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def verify(self, password_hash: str, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await anyio.to_thread.run_sync(check, limiter=self._limiter)
