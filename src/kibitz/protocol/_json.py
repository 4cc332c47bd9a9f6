"""One JSON decoder for everything a peer sends: REST bodies, msync auth tokens, ext values.

A decoder that recurses runs out of stack on a few kilobytes of ``[[[[…`` (msgspec and the
standard library both raise ``RecursionError``, which no ``except ValueError`` catches), and
whatever walks the value afterwards (validation, re-encoding) would recurse as deep. So the
nesting is bounded here, once: deeper than ``MAX_DEPTH`` is malformed input like any other.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

__all__ = ["MAX_DEPTH", "JsonError", "loads"]

MAX_DEPTH: Final = 64  # arrays and objects inside one another; Agora's own ext nest a few


class JsonError(ValueError):
    """Not JSON (also: a string that is not UTF-8), or nested deeper than ``MAX_DEPTH``."""


def loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The decoded value; raises ``JsonError`` for anything malformed or too deep."""
    raw = data.encode() if isinstance(data, str) else data
    # Fewer brackets than the limit cannot nest past it: the common case costs two counts.
    if raw.count(b"[") + raw.count(b"{") > max_depth and _too_deep(raw, max_depth):
        raise JsonError(f"nested deeper than {max_depth} levels")
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise JsonError(str(exc)) from exc


def _too_deep(raw: bytes, max_depth: int) -> bool:
    """Whether brackets outside strings nest past ``max_depth`` (one pass, no recursion)."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False
