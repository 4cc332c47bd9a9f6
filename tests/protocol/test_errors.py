"""The error catalogue is Agora's: same numbers, same names (403 renamed on purpose)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kibitz import protocol
from kibitz.protocol import ChatError, ErrorCode

SEED = Path(__file__).parents[1] / "data" / "error-codes.tsv"


def seed_rows() -> list[tuple[int, str]]:
    with SEED.open() as f:
        return [(int(r["code"]), r["name"]) for r in csv.DictReader(f, delimiter="\t")]


def test_every_seed_code_is_present_with_its_number_and_name() -> None:
    rows = seed_rows()
    assert len(rows) == 77
    for code, name in rows:
        if code == 403:  # the seed page names 403 FILE_UPLOAD_FAILED twice, by mistake
            name = "FILE_DOWNLOAD_FAILED"
        assert ErrorCode(code).name == name


def test_catalogue_has_nothing_but_the_seed_and_documented_extensions() -> None:
    seed = {code for code, _ in seed_rows()}
    extra = {int(c) for c in ErrorCode} - seed
    assert extra <= {606, 607, 608, 609, 610, 611, 612, 613, 706, 707}, extra


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_a_description(code: ErrorCode) -> None:
    assert code.description and code.description.endswith(".")
    assert len(code.description) <= 100


def test_chat_error_carries_code_and_description() -> None:
    err = ChatError(ErrorCode.USER_NOT_FOUND, "username bob doesn't exist")
    assert err.code is ErrorCode.USER_NOT_FOUND
    assert err.description == "username bob doesn't exist"
    assert "USER_NOT_FOUND (204)" in str(err)
    assert ChatError(ErrorCode.SERVER_TIMEOUT).description == ErrorCode.SERVER_TIMEOUT.description
    assert protocol.ChatError is ChatError
