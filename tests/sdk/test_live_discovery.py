"""Discovery against a real server: a local ``server.json`` host (what a cluster node will
serve) pointing at the live kibitz, at closed ports, or at a TCP relay the test can kill
to play a node that dies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from kibitz import AdminClient, ChatClient, ChatError, ChatMessage, ChatOptions, ErrorCode
from kibitz.sdk import ServerNode
from tests.conftest import free_port
from tests.sdk.conftest import Clients, Live, Recorder

pytestmark = pytest.mark.anyio
FAST = {"reconnect_base_delay": 0.05, "reconnect_max_delay": 0.2, "request_timeout": 5.0}
PATH = "/easemob/server.json"


def document(*ports: int, app_key: str = "acme#chat") -> dict[str, Any]:
    ip = "127.0.0.1"
    hosts = [
        {"protocol": "http", "domain": ip, "ip": ip, "port": str(p), "channel": "1"} for p in ports
    ]
    return {
        "rest": {"hosts": hosts},
        "msync-wx": {"hosts": hosts},
        "app_key": app_key,
        "enableReportLogs": "false",
        "enableDataReport": "false",
        "uploadinparts_enable": "false",
    }


def node(port: int) -> ServerNode:
    return ServerNode(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/websocket")


class DiscoveryHost:
    """``GET /easemob/server.json`` on loopback, answering whatever ``answer`` holds."""

    def __init__(self) -> None:
        self.status, self.body = 200, b"{}"
        self.queries: list[dict[str, list[str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                owner.queries.append(parse_qs(parts.query))
                status, body = (owner.status, owner.body) if parts.path == PATH else (404, b"")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}{PATH}"

    def answer(self, body: object, status: int = 200) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.status, self.body = status, raw

    def __enter__(self) -> DiscoveryHost:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)


class Relay:
    """A TCP relay to the live server: a node the test can kill (close listener and links)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> Relay:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def kill(self) -> None:
        """The node dies: new connections are refused, open ones break."""
        assert self._server is not None
        self._server.close()
        for writer in self._links:
            writer.transport.abort()
        self._links.clear()


@pytest.fixture
def discovery() -> Iterator[DiscoveryHost]:
    with DiscoveryHost() as host:
        yield host


@pytest.fixture
async def relay(live: Live) -> AsyncIterator[Relay]:
    relay = await Relay(live.server.port).start()
    yield relay
    with contextlib.suppress(AssertionError):
        await relay.kill()


def client_for(clients: Clients, url: str | list[str], **kw: Any) -> tuple[ChatClient, Recorder]:
    client = ChatClient(ChatOptions.for_discovery(url, "acme#chat", **kw))
    rec = Recorder()
    client.add_connection_listener(rec)
    client.chat.add_message_listener(rec)
    clients.made.append(client)
    return client, rec


async def test_discovered_clients_chat(
    live: Live, discovery: DiscoveryHost, clients: Clients, pair: dict[str, str]
) -> None:
    discovery.answer(document(live.server.port))
    alice, _ = client_for(clients, discovery.url)
    bob, bob_rec = client_for(clients, discovery.url)
    await alice.login(pair["alice"], password="pw")
    await bob.login(pair["bob"], password="pw")
    assert alice.server_node == node(live.server.port)
    sent = await alice.chat.send_message(ChatMessage.text(pair["bob"], "found you"))
    await bob_rec.until(lambda: bob_rec.texts == ["found you"])
    assert bob_rec.messages[0].msg_id == sent.msg_id
    assert discovery.queries == [{"app_key": ["acme#chat"]}] * 2


async def test_login_skips_a_node_that_refuses(
    live: Live, discovery: DiscoveryHost, clients: Clients, pair: dict[str, str]
) -> None:
    discovery.answer(document(free_port(), live.server.port))
    alice, rec = client_for(clients, discovery.url)
    await alice.login(pair["alice"], password="pw")  # the grant and msync both fail over
    assert alice.server_node == node(live.server.port)
    await rec.until(lambda: rec.calls == ["connected"])


async def test_a_list_of_discovery_urls_is_tried_in_order(
    live: Live, discovery: DiscoveryHost, clients: Clients, pair: dict[str, str]
) -> None:
    discovery.answer(document(live.server.port))
    dead = f"http://127.0.0.1:{free_port()}{PATH}"
    alice, _ = client_for(clients, [dead, discovery.url])
    await alice.login(pair["alice"], password="pw")
    assert alice.server_node == node(live.server.port)


async def test_unreachable_discovery_url_is_304(clients: Clients, pair: dict[str, str]) -> None:
    alice, rec = client_for(clients, f"http://127.0.0.1:{free_port()}{PATH}")
    with pytest.raises(ChatError) as err:
        await alice.login(pair["alice"], password="pw")
    assert err.value.code is ErrorCode.SERVER_GET_DNSLIST_FAILED
    assert alice.current_user is None and alice.server_node is None and rec.calls == []


async def test_silent_discovery_url_times_out_as_304(
    clients: Clients, pair: dict[str, str]
) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}{PATH}"
        alice, _ = client_for(clients, url, request_timeout=0.3)
        with pytest.raises(ChatError) as err:
            await asyncio.wait_for(alice.login(pair["alice"], password="pw"), 10)
    assert err.value.code is ErrorCode.SERVER_GET_DNSLIST_FAILED


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"error": "organization_application_not_found", "error_description": "no app"}),
        (200, b"<html>not json</html>"),
        (200, {"rest": {"hosts": []}, "msync-wx": {"hosts": []}, "app_key": "acme#chat"}),
        (500, b""),
    ],
    ids=["404", "garbage", "no-hosts", "500"],
)
async def test_unusable_document_is_304(
    discovery: DiscoveryHost, clients: Clients, pair: dict[str, str], status: int, body: object
) -> None:
    discovery.answer(body, status)
    alice, _ = client_for(clients, discovery.url)
    with pytest.raises(ChatError) as err:
        await alice.login(pair["alice"], password="pw")
    assert err.value.code is ErrorCode.SERVER_GET_DNSLIST_FAILED
    assert len(discovery.queries) == 1


async def test_reconnect_refetches_and_lands_on_the_next_live_node(
    live: Live,
    discovery: DiscoveryHost,
    relay: Relay,
    clients: Clients,
    admin: AdminClient,
    pair: dict[str, str],
) -> None:
    discovery.answer(document(relay.port))
    alice, rec = client_for(clients, discovery.url, **FAST)
    bob, bob_rec = client_for(clients, discovery.url)
    await alice.login(pair["alice"], password="pw")
    discovery.answer(document(live.server.port))  # bob lands on the live node directly
    await bob.login(pair["bob"], password="pw")
    assert alice.server_node == node(relay.port)
    # The relay's node dies; the document has not caught up yet and still lists it first.
    discovery.answer(document(relay.port, live.server.port))
    await relay.kill()
    await rec.until(lambda: rec.calls.count("connected") == 2)
    assert rec.calls == ["connected", "disconnected:NETWORK_ERROR", "connected"]
    assert alice.server_node == node(live.server.port)
    assert len(discovery.queries) >= 3  # alice's login, bob's login, alice's reconnect
    sent = await alice.chat.send_message(ChatMessage.text(pair["bob"], "moved"))
    await bob_rec.until(lambda: bob_rec.texts == ["moved"])
    assert bob_rec.messages[0].msg_id == sent.msg_id
    # REST follows the node too: renew_token asks the live node, not the dead relay.
    await alice.renew_token(await admin.user_token(pair["alice"]))


async def test_discovery_failure_during_reconnect_is_a_failed_attempt(
    discovery: DiscoveryHost, relay: Relay, clients: Clients, pair: dict[str, str]
) -> None:
    discovery.answer(document(relay.port))
    alice, rec = client_for(clients, discovery.url, max_reconnect_attempts=2, **FAST)
    await alice.login(pair["alice"], password="pw")
    discovery.answer({"error": "organization_application_not_found"}, 404)
    await relay.kill()
    await rec.until(lambda: any(c.startswith("logged_out") for c in rec.calls))
    assert rec.calls == [
        "connected",
        "disconnected:NETWORK_ERROR",
        "logged_out:SERVER_NOT_REACHABLE",
    ]
    assert len(discovery.queries) == 3  # the login, then one per reconnect attempt
