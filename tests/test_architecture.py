"""Dependencies point one way; a newcomer can trust the folder names.

- ``kibitz.protocol`` imports nothing from the server or the SDK;
- ``kibitz.server.domain`` imports no web framework, database driver or broker client;
- ``kibitz.sdk`` never imports the server;
- storage imports no transport, bus or cluster adapter; the bus and cluster adapters import
  no storage or transport; transports import no storage (they call domain services).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "kibitz"

RULES = {
    "protocol": ("kibitz.server", "kibitz.sdk", "kibitz.cli", "kibitz.bench"),
    "server/domain": (
        "fastapi",
        "starlette",
        "sqlalchemy",
        "alembic",
        "aiosqlite",
        "asyncpg",
        "redis",
        "uvicorn",
        "websockets",
        "kibitz.server.storage",
        "kibitz.server.transport",
        "kibitz.server.bus",
        "boto3",
        "botocore",
        "PIL",
    ),
    "server/files": ("kibitz.server.storage", "kibitz.server.transport", "sqlalchemy", "fastapi"),
    "sdk": ("kibitz.server", "kibitz.cli", "fastapi", "starlette", "sqlalchemy"),
    "server/storage": (
        "kibitz.server.transport",
        "kibitz.server.bus",
        "kibitz.server.cluster",
        "fastapi",
        "starlette",
        "redis",
    ),
    "server/bus": ("kibitz.server.storage", "kibitz.server.transport", "sqlalchemy", "fastapi"),
    "server/cluster": ("kibitz.server.storage", "kibitz.server.transport", "sqlalchemy"),
    "server/transport": ("kibitz.server.storage", "sqlalchemy", "redis", "kibitz.server.cluster"),
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                names.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.add(node.module)
    return names


@pytest.mark.parametrize("folder", sorted(RULES))
def test_layer_imports_only_what_it_may(folder: str) -> None:
    forbidden = RULES[folder]
    offenders = []
    for path in sorted((SRC / folder).rglob("*.py")):
        for name in imported_modules(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []
