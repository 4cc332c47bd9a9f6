"""The bus's wire format: a batch of events as one msgpack array of ``[tag, fields]``.

Tags are positions in ``EVENT_TYPES``; decoding rebuilds the typed records (msgspec checks
every field's type), so a node never acts on a malformed event from a newer or broken peer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from kibitz.server.domain.events import EVENT_TYPES, Event

__all__ = ["decode_batch", "encode_batch"]

_TAG: Final = {kind: i for i, kind in enumerate(EVENT_TYPES)}
_FIELDS: Final = {kind: tuple(f.name for f in dataclasses.fields(kind)) for kind in EVENT_TYPES}
_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(tuple[int, list[tuple[int, list[Any]]]])


def encode_batch(origin: int, events: Sequence[Event]) -> bytes:
    """``origin`` is the publishing node, so it can skip its own batches."""
    items = [(_TAG[type(e)], [getattr(e, name) for name in _FIELDS[type(e)]]) for e in events]
    return _encoder.encode((origin, items))


def decode_batch(data: bytes) -> tuple[int, list[Event]]:
    """Raises ``ValueError`` for anything that is not a batch of known events."""
    try:
        origin, items = _decoder.decode(data)
        out: list[Event] = []
        for tag, values in items:
            if not 0 <= tag < len(EVENT_TYPES):
                raise ValueError(f"unknown event tag {tag}")
            kind = EVENT_TYPES[tag]
            fields = dict(zip(_FIELDS[kind], values, strict=True))
            out.append(msgspec.convert(fields, kind))
    except (msgspec.DecodeError, msgspec.ValidationError, TypeError) as exc:
        raise ValueError(f"not a bus batch: {exc}") from exc
    return origin, out
