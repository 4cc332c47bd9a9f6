"""The served ``/openapi.json``: complete enough for schemathesis and client generators.

FastAPI cannot see what the routes do by hand, so each route states it with
``operation(...)`` (keyword arguments for its decorator):

- the request body: routes read it with ``read_json`` / ``parse_model`` (malformed JSON must
  stay Agora's 400 ``json_parse``, not FastAPI's 422), so it is declared, not parsed, here;
- the 200 answer (a model of ``shapes``) and the error statuses, all in Agora's error body;
- the credential: a Bearer token, app or user (``Credential``).

``install_openapi(app)`` then adds the Bearer scheme and the request-body models to the
document's components.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable
from typing import Any, Final, Literal

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .shapes import USERNAME_PATTERN, ErrorBody

__all__ = ["BEARER", "Credential", "install_openapi", "operation", "operation_id"]

BEARER: Final = "bearerAuth"
_REF: Final = "#/components/schemas/{model}"
_COMPONENTS_KEY: Final = "x-kibitz-components"  # carried on an operation until install
_FASTAPI_422: Final = ("HTTPValidationError", "ValidationError")

# app: an app token (or a 007 token with the app privilege); self: that, or a user token of
# the user in the path; user: a user token only; optional: none, but some variants take one.
Credential = Literal["app", "self", "user", "member", "any", "optional"] | None

_CREDENTIALS: Final[dict[str, str]] = {
    "app": "Needs an app token.",
    "self": "Needs an app token, or a user token of the user in the path.",
    "user": "Needs a user token of the user in the path.",
    "member": "Needs an app token, or a user token of any user of the app, who acts as "
    "itself (what that user may do is the group's rules: owner, admin, member).",
    "any": "Needs an app token, or a user token of any user of the app.",
    "optional": "No credential, except the `agora` grant (a 007 app token) and the "
    "`inherit` grant (an app token).",
}

_ERRORS: Final[dict[int, str]] = {
    400: "A malformed request: illegal_argument, json_parse (the body is not JSON), "
    "invalid_grant, duplicate_unique_property_exists…",
    401: "No credential, or not one this operation accepts: unauthorized, auth_bad_access_token",
    403: "Not allowed: forbidden_op",
    404: "Unknown app (organization_application_not_found) or resource "
    "(service_resource_not_found)",
    413: "The body is too large: request_entity_too_large",
    429: "Over a limit: reach_limit (the app's rate), resource_limited (a plan quota)",
    503: "The server is shedding load: server_busy (try again later)",
}

_BEARER_SCHEME: Final = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "Agora token (007…) or kibitz access token",
    "description": "An app token (POST /{org}/{app}/token with grant_type client_credentials, "
    "or an Agora 007 token with the app privilege) or a user token (grant_type password or "
    "inherit, or an Agora 007 user token). Each operation says which in x-kibitz-credential.",
}


# Path parameters mean the same on every route; FastAPI sees only ``str``.
_PATH_PARAMETERS: Final[dict[str, dict[str, Any]]] = {
    "org_name": {"description": "The organization of the app key org#app"},
    "app_name": {"description": "The app of the app key org#app"},
    "username": {
        "description": "An Agora username",
        "schema": {"type": "string", "pattern": USERNAME_PATTERN},
    },
    "resource": {"description": "A device's resource, e.g. webim_web_1"},
}


def operation_id(route: APIRoute) -> str:
    """The endpoint's function name; ``_build`` suffixes the method where one serves several."""
    return route.name


def _request_body(model: type[BaseModel]) -> dict[str, Any]:
    refs, top = models_json_schema([(model, "validation")], ref_template=_REF)
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": refs[(model, "validation")]}},
        },
        _COMPONENTS_KEY: top.get("$defs", {}),
    }


def operation(
    *,
    ok: Any,
    credential: Credential = "app",
    body: type[BaseModel] | None = None,
    errors: Iterable[int] = (),
    parameters: list[dict[str, Any]] | None = None,
    responses: dict[int, dict[str, Any]] | None = None,
    body_doc: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Decorator keyword arguments documenting one route (nothing here runs per request).

    Every operation may answer 400 and 404 (its app is in the path), 403 (the app is
    banned), 429 (the app's rate) and 503 (the node sheds load); one with a credential 401,
    one with a body 413; ``errors`` adds the others it can give. ``responses``
    replaces or adds answers (a download's bytes); ``body_doc`` is a request body that
    is not JSON (an upload's multipart form), whole as OpenAPI's ``requestBody``.
    """
    statuses = {400, 403, 404, 429, 503, *errors}
    if credential is not None and credential != "optional":
        statuses.add(401)
    if body is not None or body_doc is not None:
        statuses.add(413)
    answers: dict[int | str, dict[str, Any]] = {200: {"model": ok, "description": "Success"}}
    for status in sorted(statuses):
        answers[status] = {"model": ErrorBody, "description": _ERRORS[status]}
    for status, answer in (responses or {}).items():
        answers[status] = answer
    extra: dict[str, Any] = {}
    if credential == "optional":
        extra["security"] = [{}, {BEARER: []}]
    elif credential is not None:
        extra["security"] = [{BEARER: []}]
    if credential is not None:
        extra["x-kibitz-credential"] = _CREDENTIALS[credential]
    if body is not None:
        extra.update(_request_body(body))
    if body_doc is not None:
        extra["requestBody"] = body_doc
    if parameters:
        extra["parameters"] = parameters
    return {"responses": answers, "openapi_extra": extra}


def _complete(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document, with what ``operation`` carried moved where it belongs."""
    ids = Counter(op["operationId"] for path in document["paths"].values() for op in path.values())
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for path in document.get("paths", {}).values():
        for method, op in path.items():
            if ids[op["operationId"]] > 1:
                op["operationId"] += f"_{method}"
            for name, schema in op.pop(_COMPONENTS_KEY, {}).items():
                if schemas.setdefault(name, schema) != schema:
                    raise RuntimeError(f"two OpenAPI schemas are named {name}")
            # FastAPI's own 422 never happens: errors.py answers a bad parameter with 400.
            op.get("responses", {}).pop("422", None)
            for parameter in op.get("parameters", []):
                if parameter.get("in") == "path":
                    parameter.update(_PATH_PARAMETERS.get(parameter["name"], {}))
    for name in _FASTAPI_422:
        schemas.pop(name, None)
    components.setdefault("securitySchemes", {})[BEARER] = _BEARER_SCHEME
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at ``app.openapi_url`` (built once, on first use)."""
    build = app.openapi  # FastAPI's own: the app's title, version, servers…

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            with warnings.catch_warnings():  # a route serving several methods: see _complete
                warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
                document = build()
            app.openapi_schema = _complete(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
