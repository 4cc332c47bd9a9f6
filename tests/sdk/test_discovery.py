"""The discovery document, read without a network: which nodes, in which order, with
which URLs; and the options that turn discovery on."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from kibitz import ChatError, ChatOptions, ErrorCode
from kibitz.sdk import ServerNode
from kibitz.sdk._discovery import discovery_request_url, first_working, parse_document

pytestmark = pytest.mark.anyio


def host(port: str | int, protocol: str = "http", domain: str = "127.0.0.1") -> dict[str, Any]:
    return {"protocol": protocol, "domain": domain, "ip": domain, "port": port, "channel": "1"}


def doc(rest: list[Any], msync: list[Any] | None = None) -> dict[str, Any]:
    return {
        "rest": {"hosts": rest},
        "msync-wx": {"hosts": rest if msync is None else msync},
        "app_key": "acme#chat",
        "enableReportLogs": "false",
    }


def test_nodes_in_document_order() -> None:
    nodes = parse_document(doc([host("5280"), host("5281")]), "http")
    assert nodes == [
        ServerNode("http://127.0.0.1:5280", "ws://127.0.0.1:5280/websocket"),
        ServerNode("http://127.0.0.1:5281", "ws://127.0.0.1:5281/websocket"),
    ]


def test_https_nodes_use_wss_and_default_ports_are_dropped() -> None:
    nodes = parse_document(doc([host("443", "https", "chat.example.com")]), "https")
    assert nodes == [ServerNode("https://chat.example.com", "wss://chat.example.com/websocket")]
    nodes = parse_document(doc([host("", "https", "chat.example.com")]), "https")
    assert nodes[0].im == "wss://chat.example.com/websocket"


def test_only_hosts_of_the_discovery_protocol_count() -> None:
    mixed = doc([host("80", "http", "a.example"), host("8443", "https", "b.example")])
    assert [n.rest for n in parse_document(mixed, "https")] == ["https://b.example:8443"]
    assert [n.rest for n in parse_document(mixed, "http")] == ["http://a.example"]
    with pytest.raises(ChatError) as err:
        parse_document(doc([host("5280")]), "https")  # never downgrade to http
    assert err.value.code is ErrorCode.SERVER_GET_DNSLIST_FAILED


def test_rest_base_pairs_with_the_same_origin_else_position_else_first() -> None:
    nodes = parse_document(doc([host(2), host(1)], [host(1), host(2), host(3)]), "http")
    assert [(n.rest, n.im) for n in nodes] == [
        ("http://127.0.0.1:1", "ws://127.0.0.1:1/websocket"),
        ("http://127.0.0.1:2", "ws://127.0.0.1:2/websocket"),
        ("http://127.0.0.1:2", "ws://127.0.0.1:3/websocket"),  # no match, no position: first
    ]
    nodes = parse_document(doc([host(10), host(11)], [host(20), host(21)]), "http")
    assert [n.rest for n in nodes] == ["http://127.0.0.1:10", "http://127.0.0.1:11"]


def test_ip_when_no_domain_ipv6_bracketed_bad_entries_skipped() -> None:
    entries = [
        {"protocol": "http", "ip": "10.0.0.7", "port": "80"},
        host("5280", domain="::1"),
        host("99999"),  # bad port
        host("x1"),  # not a port
        {"protocol": "http", "domain": "evil.example/path", "port": "1"},
        "not a host",
        host("5280"),
        host("5280"),  # listed twice: tried once
    ]
    nodes = parse_document(doc(entries), "http")
    assert [n.im for n in nodes] == [
        "ws://10.0.0.7/websocket",
        "ws://[::1]:5280/websocket",
        "ws://127.0.0.1:5280/websocket",
    ]


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {},
        {"rest": {"hosts": []}, "msync-wx": {"hosts": []}},
        {"rest": {"hosts": [host(1)]}},  # no msync-wx
        {"rest": {"hosts": [host(1)]}, "msync-wx": {"hosts": "x"}},
        {"rest": [], "msync-wx": {"hosts": [host(1)]}},
        doc([host(1, "tcp")]),
    ],
)
def test_unusable_documents(body: object) -> None:
    with pytest.raises(ChatError) as err:
        parse_document(body, "http")
    assert err.value.code is ErrorCode.SERVER_GET_DNSLIST_FAILED


def test_request_url_sets_the_app_key() -> None:
    url = discovery_request_url("http://h:1/easemob/server.json?v=2&app_key=old", "acme#chat")
    parts = urlsplit(url)
    assert parts.path == "/easemob/server.json"
    assert "app_key=acme%23chat" in parts.query
    assert parse_qs(parts.query) == {"v": ["2"], "app_key": ["acme#chat"]}


async def test_first_working_skips_node_failures_only() -> None:
    a, b, c = (ServerNode(f"http://{x}", f"ws://{x}/websocket") for x in "abc")
    tried: list[str] = []

    async def attempt(node: ServerNode) -> str:
        tried.append(node.rest)
        if node is a:
            raise ChatError(ErrorCode.SERVER_NOT_REACHABLE)
        if node is b:
            raise ChatError(ErrorCode.INVALID_PASSWORD)
        return node.rest

    with pytest.raises(ChatError) as err:
        await first_working([a, b, c], attempt)
    assert err.value.code is ErrorCode.INVALID_PASSWORD and tried == ["http://a", "http://b"]
    assert await first_working([a, c], attempt) == ("http://c", c)
    with pytest.raises(ChatError) as err:
        await first_working([a], attempt)  # the last node's failure is the answer
    assert err.value.code is ErrorCode.SERVER_NOT_REACHABLE


def test_options_for_discovery() -> None:
    opts = ChatOptions.for_discovery("http://h:1/easemob/server.json", "acme#chat", resource="r")
    assert opts.discovery_urls == ("http://h:1/easemob/server.json",)
    assert (opts.rest_server, opts.im_server, opts.resource) == ("", "", "r")
    two = ChatOptions.for_discovery(["https://a/s.json", "https://b/s.json"], "acme#chat")
    assert two.discovery_urls == ("https://a/s.json", "https://b/s.json")
    one = ChatOptions("acme#chat", discovery_urls="http://h/s.json")  # type: ignore[arg-type]
    assert one.discovery_urls == ("http://h/s.json",)


@pytest.mark.parametrize(
    "kw",
    [
        {"discovery_urls": ("ftp://h/s.json",)},
        {"discovery_urls": ("http:///s.json",)},
        {"discovery_urls": ("http://h/s.json",), "rest_server": "http://h"},
        {},  # neither discovery nor a server
    ],
)
def test_options_refuse_bad_discovery(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ChatOptions("acme#chat", **kw)
