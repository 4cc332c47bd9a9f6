"""The msync-over-WebSocket gateway the official Agora Chat SDKs speak.

Module map:

- ``gateway.py`` — ``Gateway``, built once by ``create_app`` (``app.state.gateway``): the
  dispatcher, the connection factory, the raw-socket protocol class for uvicorn.
- ``rawws.py`` — ``/websocket`` straight on the socket (what ``kibitz serve`` runs, via
  ``kibitz.server.serving.uvicorn_config``); ``endpoint.py`` — the same over ASGI
  (``GatewayMiddleware``, ``gateway_route``).
- ``connection.py`` — one connection: state machine, bounded outbox, receive/send tasks.
- ``dispatch.py`` — ``Dispatcher``: decode a frame, check its route, call its handler.
- ``handlers/`` — one module per concern; ``handlers/table.py`` maps ``MSync.Command`` and
  ``Meta.NameSpace`` to them (``provision``, ``sync``, ``unread``, ``logout``; metas
  ``messages`` for CHAT, ``statistic``). A new namespace: one module, one table line.
- ``statuses.py`` — domain ``ChatError`` → msync status/reason, the one table.
- ``close.py`` — ``Close``, every WebSocket close code.
- ``frames.py`` — every frame the gateway sends, encoded in one place.
- ``registry.py`` — this node's connections, for the bus's notices and kicks (the cluster-wide
  truth about devices is the domain's ``SessionService`` and its device directory).
"""
