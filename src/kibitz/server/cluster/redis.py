"""The cluster's shared state on Redis: node leases, the device directory, the node list.

- A *lease* ``{p}lease:{n}`` (n in 0..1023) makes a node node ``n``: taken with SET NX and a
  TTL, renewed every third of it. Its value names the node's life (a random epoch) and its
  public URL. A node that dies stops renewing, and within the TTL it is gone.
- The *directory* keeps a hash per user, ``{p}dev:{app}:{user}``: resource → the session,
  its node and that node's epoch. An entry counts only while its node's lease holds the same
  epoch, so a dead node's devices stop counting when its lease ends, with no sweeper. Dead
  entries are removed by the next admission of that user.
- Admission runs ``devices.admit`` in a WATCH/MULTI transaction on the user's hash: two
  logins racing on two nodes cannot both take the last free device slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Final

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.domain.devices import admit
from kibitz.server.domain.nodes import NodeInfo
from kibitz.server.domain.sessions import Admitted, LiveDevice

__all__ = ["LEASE_TTL_S", "MAX_NODES", "NodeLease", "RedisDirectory", "RedisNodes"]

log = logging.getLogger(__name__)

MAX_NODES: Final = 1024  # the node bits of a message id
LEASE_TTL_S: Final = 15.0
_ADMIT_TRIES: Final = 32

_RENEW = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not v then
  if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 2 end
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LeaseLost(RuntimeError):
    """Another node holds our node id: this process must stop issuing ids."""


class NodeLease:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        url: str,
        *,
        ttl_s: float = LEASE_TTL_S,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.epoch = secrets.token_hex(8)
        self._value = json.dumps({"epoch": self.epoch, "url": url})
        self._ttl_ms = int(ttl_s * 1000)
        self._on_lost = on_lost
        self.node: int | None = None
        self._task: asyncio.Task[None] | None = None

    def key(self, node: int) -> str:
        return f"{self._prefix}lease:{node}"

    async def acquire(self) -> int:
        """Take the lowest free node id; raises RuntimeError when all are taken."""
        for n in range(MAX_NODES):
            if await self._redis.set(self.key(n), self._value, nx=True, px=self._ttl_ms):
                self.node = n
                self._task = asyncio.create_task(self._renew_loop(), name="node-lease")
                return n
        raise RuntimeError(f"all {MAX_NODES} node ids are leased")

    async def _renew_loop(self) -> None:
        assert self.node is not None
        key = self.key(self.node)
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                async with asyncio.timeout(self._ttl_ms / 3000):
                    held = await self._redis.eval(_RENEW, 1, key, self._value, self._ttl_ms)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("node lease not renewed (Redis): %s", exc)
                continue
            if int(held) == 0:
                log.critical("node id %d is leased by another node; stopping", self.node)
                if self._on_lost is not None:
                    self._on_lost()
                return

    async def release(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.node is not None:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._redis.eval(_RELEASE, 1, self.key(self.node), self._value)


def _epochs(values: Sequence[Any]) -> list[str | None]:
    out: list[str | None] = []
    for v in values:
        try:
            out.append(json.loads(v)["epoch"] if v is not None else None)
        except (ValueError, KeyError, TypeError):
            out.append(None)
    return out


_device_decoder: Final = msgspec.json.Decoder(LiveDevice)


class RedisDirectory:
    def __init__(self, redis: Redis, prefix: str, lease: NodeLease) -> None:
        self._redis = redis
        self._prefix = prefix
        self._lease = lease

    def _key(self, app_pk: str, username: str) -> str:
        return f"{self._prefix}dev:{app_pk}:{username}"

    async def _epochs_of(self, devices: Iterable[LiveDevice], via: Any = None) -> dict[int, str]:
        """node → the epoch its lease holds now, for the nodes of ``devices`` (``via``: a
        pipeline in WATCH mode, so an admission holds one connection, not two)."""
        nodes = sorted({d.node for d in devices})
        if not nodes:
            return {}
        client = self._redis if via is None else via
        epochs = _epochs(await client.mget([self._lease.key(n) for n in nodes]))
        return {n: e for n, e in zip(nodes, epochs, strict=True) if e is not None}

    async def _alive(
        self, entries: dict[str, LiveDevice], via: Any = None
    ) -> dict[str, LiveDevice]:
        """The entries whose node still holds the lease they were made under."""
        current = await self._epochs_of(entries.values(), via)
        return {r: d for r, d in entries.items() if current.get(d.node) == d.epoch}

    @staticmethod
    def _decode(raw: dict[Any, Any]) -> dict[str, LiveDevice]:
        out = {}
        for field, value in raw.items():
            name = field.decode() if isinstance(field, bytes) else str(field)
            try:
                out[name] = _device_decoder.decode(value)
            except msgspec.DecodeError:
                continue  # an unreadable entry counts as gone
        return out

    async def admit(
        self, app_pk: str, username: str, device: LiveDevice, max_devices: int
    ) -> Admitted:
        key = self._key(app_pk, username)
        async with self._redis.pipeline(transaction=True) as pipe:
            for _ in range(_ADMIT_TRIES):
                try:
                    await pipe.watch(key)
                    entries = self._decode(await pipe.hgetall(key))
                    live = await self._alive(entries, via=pipe)
                    decision = admit(max_devices, list(live), device.resource)
                    replaced = live.get(decision.replaces) if decision.replaces else None
                    kicked = tuple(live[r] for r in decision.kicks if r in live)
                    gone = [r for r in entries if r not in live or r in decision.kicks]
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if gone:
                        pipe.hdel(key, *gone)
                    pipe.hset(key, device.resource, msgspec.json.encode(device))
                    await pipe.execute()
                    return Admitted(replaced, kicked)
                except WatchError:
                    continue
        raise ChatError(ErrorCode.SERVER_BUSY, "too many logins of this user at once")

    async def leave(self, app_pk: str, username: str, resource: str, session: str) -> bool:
        key = self._key(app_pk, username)
        async with self._redis.pipeline(transaction=True) as pipe:
            for _ in range(_ADMIT_TRIES):
                try:
                    await pipe.watch(key)
                    raw = await pipe.hget(key, resource)
                    if raw is None or _device_decoder.decode(raw).session != session:
                        await pipe.unwatch()  # type: ignore[no-untyped-call]
                        return False
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hdel(key, resource)
                    await pipe.execute()
                    return True
                except WatchError:
                    continue
        return False

    async def drop(self, app_pk: str, username: str, resources: Collection[str] | None) -> int:
        key = self._key(app_pk, username)
        live = await self._alive(self._decode(await self._redis.hgetall(key)))
        gone = list(live) if resources is None else [r for r in resources if r in live]
        if gone:
            await self._redis.hdel(key, *gone)
        return len(gone)

    async def devices(self, app_pk: str, username: str) -> list[LiveDevice]:
        raw = await self._redis.hgetall(self._key(app_pk, username))
        return list((await self._alive(self._decode(raw))).values())

    async def online(self, app_pk: str, usernames: Sequence[str]) -> set[str]:
        names = list(dict.fromkeys(usernames))
        if not names:
            return set()
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self._key(app_pk, name))
            raws = await pipe.execute()
        per_user = [self._decode(raw) for raw in raws]
        current = await self._epochs_of(d for entries in per_user for d in entries.values())
        return {
            name
            for name, entries in zip(names, per_user, strict=True)
            if any(current.get(d.node) == d.epoch for d in entries.values())
        }

    async def forget_node(self, node: int) -> None:
        """Our devices stop counting as soon as the lease is gone: release it."""
        if node == self._lease.node:
            await self._lease.release()


class RedisNodes:
    def __init__(self, redis: Redis, lease: NodeLease) -> None:
        self._redis = redis
        self._lease = lease

    async def live(self) -> list[NodeInfo]:
        """The leased nodes, one per URL: a node restarted on its address takes a new
        lease while its dead self's still runs out, and must not be listed twice."""
        keys = [self._lease.key(n) for n in range(MAX_NODES)]
        out: dict[str, NodeInfo] = {}
        for start in range(0, MAX_NODES, 256):
            values = await self._redis.mget(keys[start : start + 256])
            for offset, value in enumerate(values):
                if value is None:
                    continue
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    url = str(json.loads(value)["url"])
                    out.setdefault(url, NodeInfo(start + offset, url))
        return list(out.values())
