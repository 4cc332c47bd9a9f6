"""Image, voice, video and file messages: an upload's URL and secret travel in the body
(msync and REST sends alike), validated, and the receiver downloads the bytes with them."""

from __future__ import annotations

from typing import Any

import pytest

from kibitz.protocol._msync import (
    Content,
    ContentKind,
    content_from_pb,
    content_to_pb,
    decode_payload,
    pb,
)

from .conftest import Gateway

pytestmark = pytest.mark.anyio


async def uploaded(gw: Gateway, data: bytes, name: str = "a.png") -> dict[str, Any]:
    h = gw.harness
    r = await h.http.post(
        f"{h.base}/chatfiles",
        files={"file": (name, data, "image/png")},
        headers={**h.admin_headers(), "restrict-access": "true"},
    )
    assert r.status_code == 200, r.text
    entity: dict[str, Any] = r.json()["entities"][0]
    entity["url"] = f"http://kibitz.test{h.base}/chatfiles/{entity['uuid']}"
    return entity


def body_of(content: Content) -> pb.MessageBody:
    body = pb.MessageBody(type=pb.MessageBody.CHAT)
    body.contents.append(content_to_pb(content))
    return body


async def test_an_image_over_msync_reaches_bob_who_downloads_it(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a, b = await gateway.client(alice, "a1"), await gateway.client(bob, "b1")
    file = await uploaded(gateway, b"\x89PNG fake bytes")
    image = Content(
        kind=ContentKind.IMAGE,
        url=file["url"],
        secret=file["share-secret"],
        filename="a.png",
        file_length=15,
        width=640,
        height=480,
    )
    ack = await a.send_body("bob", body_of(image))
    assert ack.status.error_code == pb.Status.OK
    (meta,) = await b.pull("alice")
    got = content_from_pb(decode_payload(pb.MessageBody, meta.payload).contents[0])
    assert got == image
    h = gateway.harness
    path = got.url.removeprefix("http://kibitz.test")
    download = await h.http.get(path, params={"em-redirect": "true", "share-secret": got.secret})
    assert download.content == b"\x89PNG fake bytes"


@pytest.mark.parametrize(
    "content",
    [
        Content(kind=ContentKind.IMAGE, url=""),
        Content(kind=ContentKind.FILE, url="/acme/chat/chatfiles/x"),  # not absolute
        Content(kind=ContentKind.VOICE, url="ftp://host/x"),
        Content(kind=ContentKind.VIDEO, url="http://h/x", thumbnail_url="x.jpg"),
        Content(kind=ContentKind.IMAGE, url="http://h/x", width=-1),
        Content(kind=ContentKind.IMAGE, url="http://h/x", height=float("nan")),
        Content(kind=ContentKind.VOICE, url="http://h/x", duration=-5),
    ],
)
async def test_bad_attachment_bodies_are_refused(gateway: Gateway, content: Content) -> None:
    alice, _ = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice, "a1")
    ack = await a.send_body("bob", body_of(content))
    assert ack.status.error_code != pb.Status.OK


@pytest.mark.parametrize(
    ("kind", "extra", "expect"),
    [
        ("img", {"size": {"width": 100, "height": 50}}, {"width": 100.0, "height": 50.0}),
        ("audio", {"length": 7}, {"kind": ContentKind.VOICE, "duration": 7}),
        (
            "video",
            {"length": 30, "thumb": "http://kibitz.test/t", "thumb_secret": "s2"},
            {"duration": 30, "thumbnail_url": "http://kibitz.test/t", "thumbnail_secret": "s2"},
        ),
        ("file", {}, {"kind": ContentKind.FILE}),
    ],
)
async def test_rest_sends_of_attachments(
    gateway: Gateway, kind: str, extra: dict[str, Any], expect: dict[str, Any]
) -> None:
    bob = await gateway.user("bob")
    b = await gateway.client(bob, "b1")
    file = await uploaded(gateway, b"bytes")
    h = gateway.harness
    body = {"url": file["url"], "secret": file["share-secret"], "filename": "f", **extra}
    body["file_length"] = 5
    r = await h.http.post(
        f"{h.base}/messages/users",
        json={"to": ["bob"], "type": kind, "body": body},
        headers=h.admin_headers(),
    )
    assert r.status_code == 200, r.text
    (meta,) = await b.pull("admin")
    got = content_from_pb(decode_payload(pb.MessageBody, meta.payload).contents[0])
    assert (got.url, got.secret, got.filename, got.file_length) == (
        file["url"],
        file["share-secret"],
        "f",
        5,
    )
    for field, value in expect.items():
        assert getattr(got, field) == value


async def test_rest_refuses_relative_urls(gateway: Gateway) -> None:
    h = gateway.harness
    r = await h.http.post(
        f"{h.base}/messages/users",
        json={"to": ["bob"], "type": "img", "body": {"url": "/acme/chat/chatfiles/x"}},
        headers=h.admin_headers(),
    )
    assert r.status_code == 400, r.text
