"""A send's MessageBody is encoded once for all recipients, byte for byte as if each
recipient's body had been encoded whole."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from kibitz.protocol._msync import ext_to_keyvalues, pb
from kibitz.server.domain.messaging import Sender, _BodyEncoder


@pytest.mark.parametrize("kind", [None, pb.MessageBody.NORMAL, pb.MessageBody.CHAT])
@pytest.mark.parametrize("recipient", ["bob", "b" * 64])
def test_split_encoding_equals_whole_encoding(kind: Any, recipient: str) -> None:
    body = pb.MessageBody(
        contents=[pb.MessageBody.Content(type=pb.MessageBody.Content.TEXT, text="héllo")],
        ext=ext_to_keyvalues({"n": 1, "s": "x", "j": {"k": [1, 2]}}),
    )
    if kind is not None:
        body.type = kind
    body.from_jid.name, body.to_jid.name = "spoofed", "elsewhere"
    app: Any = SimpleNamespace(app_key="acme#chat", id="app")
    sender = Sender(app, "alice", None, "r1")

    meta = pb.Meta()
    meta.ParseFromString(_BodyEncoder("acme#chat", sender, body).for_recipient(recipient)(7, 9))

    whole = pb.MessageBody()
    whole.CopyFrom(body)
    whole.from_jid.Clear()
    whole.from_jid.name = "alice"
    whole.to_jid.Clear()
    whole.to_jid.name = recipient
    if whole.type == pb.MessageBody.NORMAL:
        whole.type = pb.MessageBody.CHAT
    assert meta.payload == whole.SerializeToString()
    assert (meta.id, meta.timestamp, meta.to_jid.name, meta.from_jid.client_resource) == (
        7,
        9,
        recipient,
        "r1",
    )
