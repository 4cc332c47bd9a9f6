"""``client.group_files`` against a real server: a member shares, another lists and
downloads, only the uploader (or the owner, an admin) deletes — FILE_DELETE_FAILED else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kibitz import ChatError, ErrorCode
from tests.sdk.conftest import Clients, Live

pytestmark = pytest.mark.anyio


async def test_shared_files_round_trip(
    live: Live, clients: Clients, pair: dict[str, str], tmp_path: Path
) -> None:
    alice, _ = await clients.login(live.chat, pair["alice"], "pw")
    bob, _ = await clients.login(live.chat, pair["bob"], "pw")
    group_id = await alice.groups.create("files", members=[pair["bob"]], public=True)
    source = tmp_path / "plan.bin"
    source.write_bytes(os.urandom(50_000))
    shared = await bob.group_files.upload(group_id, source)
    assert shared.file_name == "plan.bin" and shared.file_size == 50_000
    (listed,) = await alice.group_files.list(group_id)
    assert (listed.file_id, listed.file_owner) == (shared.file_id, pair["bob"])
    copy = await alice.group_files.download(group_id, shared.file_id, tmp_path / "copy")
    assert copy.read_bytes() == source.read_bytes()
    mine = await alice.group_files.upload(group_id, source)
    with pytest.raises(ChatError) as refused:
        await bob.group_files.delete(group_id, mine.file_id)  # bob is a member only
    assert refused.value.code is ErrorCode.FILE_DELETE_FAILED
    await alice.group_files.delete(group_id, shared.file_id)  # the owner may
    assert [f.file_id for f in await bob.group_files.list(group_id)] == [mine.file_id]
    with pytest.raises(ChatError) as gone:
        await bob.group_files.download(group_id, shared.file_id, tmp_path / "x")
    assert gone.value.code is ErrorCode.FILE_NOT_FOUND
    big = tmp_path / "big"
    big.write_bytes(b"z" * (10 * 1024 * 1024 + 1))
    with pytest.raises(ChatError) as too_large:
        await bob.group_files.upload(group_id, big)
    assert too_large.value.code is ErrorCode.FILE_TOO_LARGE
