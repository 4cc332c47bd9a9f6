"""Rate limits per app: REST calls per route, messages per user.

Both are token buckets refilled at the app's rate (``rest_rate_per_s``,
``message_rate_per_user``) holding at most two seconds' worth, so a client may burst but
not sustain more. A node keeps its buckets in memory (bounded: the least recently used
go first). In a cluster the REST buckets are shared through a ``RateCounter`` (Redis: one
counter per app, route and second), since a client's calls may land on any node; message
rates stay per node — a device's sends all reach the node it is connected to, and a user
with devices on several nodes gets that rate on each.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, Protocol

from kibitz.protocol import ChatError, ErrorCode

from .app_settings import AppSettingsReader
from .delivery import Sender, TargetKind
from .ports import Clock

__all__ = ["TRAFFIC_LIMIT", "Buckets", "RateCounter", "RestRates", "SendRates"]

MAX_BUCKETS: Final = 100_000
BURST_S: Final = 2.0
TRAFFIC_LIMIT: Final = "traffic limit"  # the reason both SDKs map to the send-rate error


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at_ms: int


class Buckets:
    """Token buckets by key, at most ``MAX_BUCKETS`` (least recently used dropped)."""

    def __init__(self, max_buckets: int = MAX_BUCKETS) -> None:
        self._buckets: OrderedDict[tuple[str, ...], _Bucket] = OrderedDict()
        self._max = max_buckets

    def take(self, key: tuple[str, ...], rate_per_s: float, now_ms: int) -> bool:
        """One token from ``key``'s bucket, if it has one."""
        capacity = max(1.0, rate_per_s * BURST_S)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, now_ms)
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed_s = max(0, now_ms - bucket.at_ms) / 1000
            bucket.tokens = min(capacity, bucket.tokens + elapsed_s * rate_per_s)
            bucket.at_ms = now_ms
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True


class RateCounter(Protocol):
    """Counts shared by the nodes (a cluster's Redis)."""

    async def hit(self, key: str, window_s: int) -> int:
        """Add one to ``key`` for the current ``window_s``-second window; the new count."""
        ...


class SendRates:
    """Refuses a device's sends past the app's ``message_rate_per_user`` (0: no limit;
    Agora documents none) with MESSAGE_SEND_TRAFFIC_LIMIT."""

    def __init__(self, settings: AppSettingsReader, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._buckets = Buckets()

    async def check(self, sender: Sender, kind: TargetKind) -> None:
        if not sender.resource:
            return  # the app's own REST sends: the REST rate applies to them
        rate = (await self._settings.get(sender.app.id)).message_rate_per_user
        if rate and not self._buckets.take(
            (sender.app.id, sender.username), rate, self._clock.now_ms()
        ):
            raise ChatError(ErrorCode.MESSAGE_SEND_TRAFFIC_LIMIT, TRAFFIC_LIMIT)


class RestRates:
    """Refuses REST calls past the app's ``rest_rate_per_s`` for one route (Agora: 100/s
    per API per App Key) with SERVER_BUSY, which the REST edge answers 429 reach_limit."""

    def __init__(
        self, settings: AppSettingsReader, clock: Clock, shared: RateCounter | None = None
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._shared = shared
        self._buckets = Buckets()

    async def check(self, app_pk: str, route: str) -> None:
        rate = (await self._settings.get(app_pk)).rest_rate_per_s
        now = self._clock.now_ms()
        if self._shared is not None:
            window_s = 2  # the bucket's two seconds of burst, counted in fixed windows
            count = await self._shared.hit(f"{app_pk}:{route}:{now // (window_s * 1000)}", window_s)
            allowed = count <= rate * window_s
        else:
            allowed = self._buckets.take((app_pk, route), rate, now)
        if not allowed:
            raise ChatError(ErrorCode.SERVER_BUSY, "This request has reached API limit.")
