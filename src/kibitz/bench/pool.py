"""The coordinator's side of the generator processes: spawn, command, merge, stop."""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from .worker import COUNTERS, WorkerConfig, worker_main

__all__ = ["Pool", "WorkerError"]

_REPLY_TIMEOUT_S = 600.0


class WorkerError(RuntimeError):
    """A generator process failed; the message holds its traceback."""


class Pool:
    """``procs`` spawned worker processes; ``call`` runs one command on each, in parallel."""

    def __init__(
        self, procs: int, ws_urls: Sequence[str], app_key: str, cpu: int | None, run_tag: int
    ) -> None:
        ctx = mp.get_context("spawn")
        self.size = procs
        self.counters: Any = ctx.Array("q", procs * COUNTERS, lock=False)
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        for index in range(procs):
            parent, child = ctx.Pipe()
            config = WorkerConfig(index, tuple(ws_urls), app_key, cpu, run_tag)
            proc = ctx.Process(
                target=worker_main,
                args=(child, config, self.counters),
                daemon=True,
                name=f"kibitz-bench-{index}",
            )
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)

    @property
    def pids(self) -> list[int]:
        return [int(p.pid) for p in self._procs]

    def totals(self) -> tuple[int, int, int, int]:
        """(sessions, sent, received, errors) summed over the workers."""
        c = self.counters
        sums = [sum(c[i * COUNTERS + k] for i in range(self.size)) for k in range(COUNTERS)]
        return sums[0], sums[1], sums[2], sums[3]

    def call(
        self,
        cmd: str,
        args: Sequence[Any] | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Send ``cmd`` with ``args[i]`` to worker i (``None`` to all) and wait for all."""
        per_worker = list(args) if args is not None else [None] * self.size
        for conn, arg in zip(self._conns, per_worker, strict=True):
            conn.send((cmd, arg))
        results: list[dict[str, Any] | None] = [None] * self.size
        remaining = dict(enumerate(self._conns))
        deadline = time.monotonic() + _REPLY_TIMEOUT_S
        while remaining:
            ready = wait(list(remaining.values()), timeout=0.2)
            for index, conn in list(remaining.items()):
                if conn not in ready:
                    continue
                status, payload = conn.recv()
                del remaining[index]
                if status == "error":
                    raise WorkerError(f"generator process {index} failed in {cmd}:\n{payload}")
                results[index] = payload
            if on_tick is not None:
                on_tick()
            for index in remaining:
                if not self._procs[index].is_alive():
                    raise WorkerError(f"generator process {index} died during {cmd}")
            if time.monotonic() > deadline:
                raise WorkerError(f"{cmd}: no reply within {_REPLY_TIMEOUT_S:.0f} s")
        return [r for r in results if r is not None]

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("stop", None))
            except (OSError, ValueError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for conn in self._conns:
            conn.close()
