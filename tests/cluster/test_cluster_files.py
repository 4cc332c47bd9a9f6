"""Attachments across nodes with the S3 store (moto's S3 server on loopback): a file
uploaded through node 0 downloads through node 1, its thumbnail made on one node serves
from the other, the SDK's chunked upload may take each step on a different node, and an
image message sent on node 0 is fetched by its receiver on node 1."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from kibitz.protocol._msync import Content, ContentKind, content_from_pb, content_to_pb, pb
from tests.s3_support import S3Server, s3_server

from .conftest import Cluster, drop_cluster, make_cluster
from .support import client, token, users

__all__ = ["s3_server"]

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def s3_cluster(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[Cluster]:
    saved = {k: os.environ.get(k) for k in s3_server.env()}
    os.environ.update(s3_server.env())  # the nodes read the usual AWS settings
    try:
        bucket = s3_server.new_bucket()
        made = make_cluster(tmp_path_factory.mktemp("s3-cluster"), 2, file_store=f"s3://{bucket}/f")
        try:
            yield made
        finally:
            drop_cluster(made)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def upload(cluster: Cluster, node: int, user_token: str, data: bytes, name: str) -> Any:
    reply = httpx.post(
        f"{cluster.nodes[node].rest}/acme/chat/chatfiles",
        files={"file": (name, data, "image/png" if name.endswith(".png") else "text/plain")},
        headers={"Authorization": f"Bearer {user_token}", "restrict-access": "true"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["entities"][0]


def get(cluster: Cluster, node: int, file_id: str, secret: str, **headers: str) -> httpx.Response:
    return httpx.get(
        f"{cluster.nodes[node].rest}/acme/chat/chatfiles/{file_id}",
        headers={"share-secret": secret, **headers},
        timeout=30,
    )


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), "green").save(out, "PNG")
    return out.getvalue()


def test_uploaded_on_one_node_downloaded_on_the_other(s3_cluster: Cluster) -> None:
    who = users(s3_cluster, "alice")
    data = os.urandom(6 * 1024 * 1024 + 3)  # two S3 parts
    entity = upload(s3_cluster, 0, token(s3_cluster, 0, who["alice"]), data, "a.bin")
    got = get(s3_cluster, 1, entity["uuid"], entity["share-secret"])
    assert got.status_code == 200 and got.content == data
    part = get(s3_cluster, 1, entity["uuid"], entity["share-secret"], Range="bytes=5-9")
    assert part.status_code == 206 and part.content == data[5:10]
    refused = get(s3_cluster, 1, entity["uuid"], "wrong")
    assert refused.status_code == 403


def test_a_thumbnail_made_on_one_node_serves_from_the_other(s3_cluster: Cluster) -> None:
    who = users(s3_cluster, "alice")
    entity = upload(s3_cluster, 0, token(s3_cluster, 0, who["alice"]), png(), "p.png")
    first = get(s3_cluster, 1, entity["uuid"], entity["share-secret"], thumbnail="true")
    again = get(s3_cluster, 0, entity["uuid"], entity["share-secret"], thumbnail="true")
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    assert again.content == first.content


def test_the_chunked_upload_across_nodes(s3_cluster: Cluster) -> None:
    who = users(s3_cluster, "alice")
    auth = {"Authorization": f"Bearer {token(s3_cluster, 0, who['alice'])}"}
    nodes = [n.rest for n in s3_cluster.nodes]
    init = httpx.post(f"{nodes[0]}/acme/chat/sdk/chatfiles/part-upload", headers=auth, timeout=10)
    file_id = init.json()["entities"][0]["uuid"]
    parts = [os.urandom(1000), os.urandom(2000)]
    for number, (node, part) in enumerate(zip([1, 0], parts, strict=True), start=1):
        put = httpx.put(
            f"{nodes[node]}/acme/chat/sdk/chatfiles/part-upload/{file_id}",
            files={"part_file": ("blob", part)},
            data={"part_number": str(number)},
            headers=auth,
            timeout=30,
        )
        assert put.status_code == 200, put.text
    done = httpx.post(
        f"{nodes[1]}/acme/chat/sdk/chatfiles/part-upload/{file_id}", headers=auth, timeout=30
    )
    assert done.status_code == 200, done.text
    secret = done.json()["entities"][0]["share-secret"]
    assert get(s3_cluster, 0, file_id, secret).content == b"".join(parts)


async def test_an_image_message_sent_on_node_0_is_fetched_on_node_1(s3_cluster: Cluster) -> None:
    who = users(s3_cluster, "alice", "bob")
    picture = png()
    entity = upload(s3_cluster, 0, token(s3_cluster, 0, who["alice"]), picture, "p.png")
    url = f"{s3_cluster.nodes[0].rest}/acme/chat/chatfiles/{entity['uuid']}"
    image = Content(
        ContentKind.IMAGE, url=url, secret=entity["share-secret"], width=400, height=300
    )
    body = pb.MessageBody(type=pb.MessageBody.CHAT)
    body.contents.append(content_to_pb(image))
    async with (
        client(s3_cluster, 0, who["alice"], "a0") as alice,
        client(s3_cluster, 1, who["bob"], "b1") as bob,
    ):
        ack = await alice.send_body(who["bob"], body)
        assert ack.status.error_code == pb.Status.OK
        await bob.notice()
        (meta,) = await bob.pull(who["alice"])
    got = content_from_pb(pb.MessageBody.FromString(meta.payload).contents[0])
    assert got.url == url
    # As the SDKs do: the path on the receiver's own node, the secret in the query.
    path = got.url.split("/", 3)[3]
    async with httpx.AsyncClient(timeout=30) as http:
        fetched = await http.get(
            f"{s3_cluster.nodes[1].rest}/{path}",
            params={"em-redirect": "true", "share-secret": got.secret},
        )
    assert fetched.content == picture
