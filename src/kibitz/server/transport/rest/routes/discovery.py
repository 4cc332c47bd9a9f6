"""``GET /easemob/server.json``: server discovery, as the Web SDK does it with ``isHttpDNS``.

The SDK fetches this document from fixed host names before it logs in (agora-protocol.md
§4.2) and connects to one of the hosts it lists: REST at ``protocol://domain:port`` and
msync at ``ws[s]://domain:port/websocket``. kibitz lists its live nodes (a dead one drops
out when its lease ends), the answering node first, so clients spread over the cluster and
find another node when theirs goes away. Public by design: it runs before the client has
any credential, and it names nothing but this cluster's public addresses.

    ?app_key=org#app  or  ?app_id=<App ID>   (appId mode: the answer carries app_key)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.domain.models import App
from kibitz.server.domain.nodes import NodeInfo

from ..deps import services_of
from ..openapi import operation, operation_id
from ..shapes import ServerDocument

__all__ = ["router", "server_document"]

router = APIRouter(generate_unique_id_function=operation_id)

_QUERY = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }
    for name, description in (
        ("app_key", "The app as org#app"),
        ("app_id", "The app's App ID (used when app_key is absent)"),
    )
]


def _host(node: NodeInfo) -> dict[str, str]:
    return {
        "protocol": node.scheme,
        "domain": node.host,
        "ip": node.host,
        "port": str(node.port),
        "channel": str(node.node),
    }


def server_document(app: App, nodes: list[NodeInfo]) -> dict[str, Any]:
    """The discovery answer for ``app``: every live node, for REST and for msync."""
    hosts = [_host(n) for n in nodes]
    return {
        "rest": {"hosts": hosts},
        "msync-wx": {"hosts": hosts},
        "app_key": app.app_key,
        "enableReportLogs": "false",
        "enableDataReport": "false",
        "uploadinparts_enable": "false",
    }


@router.get(
    "/easemob/server.json",
    **operation(ok=ServerDocument, credential=None, parameters=_QUERY),
)
async def server_json(request: Request) -> JSONResponse:
    services = services_of(request)
    app_key = request.query_params.get("app_key")
    app_id = request.query_params.get("app_id")
    if app_key:
        found = await services.apps.resolve_key(app_key)  # unknown → 404, as for any app path
    else:
        by_id = await services.apps.by_app_id(app_id) if app_id else None
        if by_id is None:
            raise ChatError(ErrorCode.INVALID_APP_KEY, "no app with that app_key or app_id")
        found = by_id
    # The node asked comes first: clients spread over the cluster as the discovery name
    # spreads them, and fall over to the others in node order.
    me = services.live_sessions.node
    nodes = sorted(await services.nodes.live(), key=lambda n: (n.node != me, n.node))
    return JSONResponse(server_document(found, nodes), headers={"Cache-Control": "no-store"})
