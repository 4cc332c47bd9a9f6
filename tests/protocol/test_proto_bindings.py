"""The committed msync bindings are exactly what protoc makes of our .proto."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROTO_DIR = Path(__file__).parents[2] / "src" / "kibitz" / "protocol"


def test_generated_bindings_are_current(tmp_path: Path) -> None:
    protoc = pytest.importorskip("grpc_tools.protoc", reason="grpcio-tools (dev extra) missing")
    shutil.copy(PROTO_DIR / "msync.proto", tmp_path / "msync.proto")
    args = ["protoc", f"-I{tmp_path}", f"--python_out={tmp_path}", f"--pyi_out={tmp_path}"]
    assert protoc.main([*args, str(tmp_path / "msync.proto")]) == 0
    for name in ("msync_pb2.py", "msync_pb2.pyi"):
        assert (tmp_path / name).read_text() == (PROTO_DIR / name).read_text(), (
            f"{name} is stale: run `make proto`"
        )
