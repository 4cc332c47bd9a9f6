"""NOTIFY metas for this node's live sessions: presence events, held in memory, pulled.

The Web SDK reads a NOTIFY meta only from a pull batch (agora-protocol-2.md §2.1): the
session gets a NOTICE for the queue ``notify#events`` (a name no user or group has), pulls
it, and acknowledges with the batch's key. These events describe a state, not a message:
nothing is stored, a session that is gone needs none of them (a login fetches presence),
and each session keeps only the newest event per user it follows (``MAX_PER_SESSION`` at
most), so a burst of changes costs memory bounded by its subscriptions.

``on_presence`` runs on the bus (every node hears every ``PresenceNotify``) and costs a
dictionary look-up per follower plus, for one with a session here, one small encode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from weakref import WeakKeyDictionary

from kibitz.protocol import IdGenerator
from kibitz.protocol._msync import jid, pb
from kibitz.server.domain.events import PresenceNotify
from kibitz.server.domain.ports import Clock

from .frames import notice_frame
from .registry import LiveSession, SessionRegistry

__all__ = ["MAX_PER_SESSION", "NOTIFY_QUEUE", "NotifyBoxes"]

NOTIFY_QUEUE: Final = "notify#events"
MAX_PER_SESSION: Final = 3_000


class NotifyBoxes:
    def __init__(self, registry: SessionRegistry, ids: IdGenerator, clock: Clock) -> None:
        self._registry = registry
        self._ids = ids
        self._clock = clock
        # session → key ("presence:<uid>") → (meta id, encoded Meta), oldest first; a
        # session's box goes with the session.
        self._boxes: WeakKeyDictionary[LiveSession, dict[str, tuple[int, bytes]]] = (
            WeakKeyDictionary()
        )
        self._notices: dict[str, bytes] = {}  # app key → the NOTICE frame

    def on_presence(self, events: Sequence[PresenceNotify]) -> None:
        now = self._clock.now_ms()
        for e in events:
            sender = jid(e.app_key, e.uid)
            key = f"presence:{e.uid}"
            for name, expiry in zip(e.subscribers, e.expiries, strict=False):
                sessions = self._registry.sessions_of(e.app_pk, name)
                if not sessions:
                    continue
                payload = f'{e.payload_head}"{expiry}"{e.payload_tail}'.encode()
                meta_id = self._ids.next_id()
                meta = pb.Meta(
                    id=meta_id,
                    from_jid=sender,
                    to_jid=jid(e.app_key, name),
                    timestamp=now,
                    ns=pb.Meta.NOTIFY,
                    payload=payload,
                ).SerializeToString()
                for session in sessions.values():
                    self._put(session, e.app_key, key, meta_id, meta)

    def _put(self, session: LiveSession, app_key: str, key: str, meta_id: int, meta: bytes) -> None:
        box = self._boxes.get(session)
        if box is None:
            box = self._boxes[session] = {}
        box.pop(key, None)  # the newer state replaces the older, and moves to the end
        box[key] = (meta_id, meta)
        if len(box) > MAX_PER_SESSION:
            del box[next(iter(box))]
        notice = self._notices.get(app_key)
        if notice is None:
            notice = self._notices[app_key] = notice_frame(app_key, NOTIFY_QUEUE)
        session.notify(NOTIFY_QUEUE, notice)

    def pull(self, session: LiveSession, acked: int, limit: int) -> list[tuple[int, bytes]]:
        """Forget what ``acked`` covers; the next ``limit`` metas, oldest first."""
        box = self._boxes.get(session)
        if not box:
            return []
        if acked:
            for key in [k for k, (meta_id, _) in box.items() if meta_id <= acked]:
                del box[key]
        batch: list[tuple[int, bytes]] = []
        for item in box.values():
            if len(batch) >= limit:
                break
            batch.append(item)
        return batch

    def waiting(self, session: LiveSession) -> int:
        return len(self._boxes.get(session, ()))
