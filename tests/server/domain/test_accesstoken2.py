"""AccessToken2 (007) chat tokens: our builder/parser/verifier against the spec and npm.

The spec is docs/agora-protocol.md §1 (shared copy). Tokens with unusual shapes are packed
by hand here, independently of the module, so layout mistakes cannot cancel out.
"""

from __future__ import annotations

import base64
import hmac
import json
import struct
import subprocess
import time
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.domain.accesstoken2 import (
    CHAT_SERVICE,
    PRIVILEGE_APP,
    PRIVILEGE_USER,
    ParsedService,
    TokenFormatError,
    VerifiedChatToken,
    build_chat_app_token,
    build_chat_user_token,
    parse_token,
    verify_chat_token,
)
from tests.websdk import npm

APP_ID = "0123456789abcdef0123456789abcdef"
CERT = "00112233445566778899aabbccddeeff"
OTHER_CERT = "ffeeddccbbaa99887766554433221100"
USER = "5a1f2c3e-9b8d-4e7f-a6b5-c4d3e2f1a0b9"
T0 = 1_700_000_000
JAVA_SALT = 0xDEADBEEF  # a negative Java int, read as u32
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

CERTS = {APP_ID: CERT}


def verify(token: str, *, now_s: int = T0 + 10, privilege: int = PRIVILEGE_USER, **kw: Any) -> Any:
    return verify_chat_token(
        token, certificate_for=CERTS.get, now_s=now_s, privilege=privilege, **kw
    )


def chat_error(token: str, code: ErrorCode, **kw: Any) -> ChatError:
    with pytest.raises(ChatError) as info:
        verify(token, **kw)
    assert info.value.code == code, info.value
    return info.value


# --- an independent packer (§1.2, §1.3, §1.5) -------------------------------------------


def s(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<H", len(data)) + data


def service(stype: int, privileges: dict[int, int], tail: bytes = b"") -> bytes:
    out = struct.pack("<HH", stype, len(privileges))
    out += b"".join(struct.pack("<HI", k, v) for k, v in privileges.items())
    return out + tail


def hand_signed(
    services: list[bytes], *, issue_ts: int = T0, expire: int = 3600, salt: int = 7,
    cert: str = CERT, app_id: str = APP_ID, extra: bytes = b"",
) -> bytes:  # fmt: skip
    signed = s(app_id) + struct.pack("<IIIH", issue_ts, expire, salt, len(services))
    signed += b"".join(services) + extra
    k1 = hmac.digest(struct.pack("<I", issue_ts), cert.encode(), "sha256")
    k2 = hmac.digest(struct.pack("<I", salt), k1, "sha256")
    return s(hmac.digest(k2, signed, "sha256")) + signed


def wrap(payload: bytes, zlib_tail: bytes = b"") -> str:
    return "007" + base64.b64encode(zlib.compress(payload) + zlib_tail).decode()


def payload_of(token: str) -> bytes:
    return zlib.decompress(base64.b64decode(token[3:]))


def user_token(**kw: Any) -> str:
    return build_chat_user_token(APP_ID, CERT, USER, 3600, issue_ts=T0, salt=42, **kw)


# --- round trips and layout -------------------------------------------------------------


def test_user_token_round_trip() -> None:
    token = user_token()
    parsed = parse_token(token)
    assert (parsed.app_id, parsed.issue_ts, parsed.expire, parsed.salt) == (APP_ID, T0, 3600, 42)
    assert parsed.services == (ParsedService(CHAT_SERVICE, {PRIVILEGE_USER: 3600}, (USER,)),)
    assert verify(token) == VerifiedChatToken(APP_ID, USER, T0, T0 + 3600)


def test_app_token_round_trip() -> None:
    token = build_chat_app_token(APP_ID, CERT, 600, issue_ts=T0, salt=1)
    assert parse_token(token).services == (
        ParsedService(CHAT_SERVICE, {PRIVILEGE_APP: 600}, ("",)),
    )
    assert verify(token, privilege=PRIVILEGE_APP) == VerifiedChatToken(APP_ID, "", T0, T0 + 600)


def test_our_bytes_match_the_independent_packer() -> None:
    chat = service(CHAT_SERVICE, {PRIVILEGE_USER: 3600}, s(USER))
    assert payload_of(user_token()) == hand_signed([chat], salt=42)
    assert parse_token(user_token()).signed_part == hand_signed([chat], salt=42)[34:]


def test_default_salt_is_random_in_the_official_range() -> None:
    tokens = [build_chat_user_token(APP_ID, CERT, USER, 60, issue_ts=T0) for _ in range(20)]
    assert len(set(tokens)) > 1
    assert all(1 <= parse_token(t).salt <= 99_999_999 for t in tokens)


def test_java_style_salt_round_trips() -> None:
    for salt in (2**31, JAVA_SALT, 2**32 - 1, 0):
        token = build_chat_user_token(APP_ID, CERT, USER, 60, issue_ts=T0, salt=salt)
        assert parse_token(token).salt == salt
        assert verify(token).user_id == USER


@pytest.mark.parametrize(
    "kw",
    [{"expire_s": -1}, {"expire_s": 2**32}, {"issue_ts": -5}, {"salt": 2**32}, {"salt": -1}],
)
def test_builder_rejects_values_that_do_not_fit(kw: dict[str, int]) -> None:
    args: dict[str, Any] = {"expire_s": 60, "issue_ts": T0, "salt": 1} | kw
    with pytest.raises(ValueError):
        build_chat_user_token(APP_ID, CERT, USER, **args)


def test_builder_refuses_an_empty_certificate() -> None:
    with pytest.raises(ValueError):
        build_chat_app_token(APP_ID, "", 60, issue_ts=T0)


# --- forgery and malformed input --------------------------------------------------------


def test_wrong_certificate_is_invalid() -> None:
    token = build_chat_user_token(APP_ID, OTHER_CERT, USER, 3600, issue_ts=T0)
    assert "signature" in chat_error(token, ErrorCode.INVALID_TOKEN).description


def test_unknown_or_certificateless_app_id_is_invalid() -> None:
    token = build_chat_user_token("f" * 32, CERT, USER, 3600, issue_ts=T0)
    assert chat_error(token, ErrorCode.INVALID_TOKEN).description == "unknown app id"
    with pytest.raises(ChatError):
        verify_chat_token(user_token(), certificate_for=lambda _: "", now_s=T0, privilege=1)


def test_every_flipped_payload_bit_is_rejected() -> None:
    payload = payload_of(user_token())
    for i in range(len(payload)):
        for bit in (0x01, 0x80):
            tampered = payload[:i] + bytes([payload[i] ^ bit]) + payload[i + 1 :]
            chat_error(wrap(tampered), ErrorCode.INVALID_TOKEN)


def test_every_changed_token_character_is_rejected() -> None:
    token = user_token()
    for i in range(len(token)):
        for swap in ("A", "z", "=", "/"):
            if token[i] != swap:
                chat_error(token[:i] + swap + token[i + 1 :], ErrorCode.INVALID_TOKEN)


def test_truncation_anywhere_is_a_format_error() -> None:
    token, payload = user_token(), payload_of(user_token())
    for cut in range(len(token)):
        with pytest.raises(TokenFormatError):
            parse_token(token[:cut])
    for cut in range(len(payload)):
        with pytest.raises(TokenFormatError):
            parse_token(wrap(payload[:cut]))


@pytest.mark.parametrize("prefix", ["006", "008", "", "7", "00", " 007", "OO7"])
def test_bad_prefix(prefix: str) -> None:
    with pytest.raises(TokenFormatError, match="prefix"):
        parse_token(prefix + user_token()[3:])


@pytest.mark.parametrize(
    "body", ["", "!!!!", "abc", "YWJj\n", "YW Jj", "YWJj=", "é" * 4, "YWI=YWI=", "YQ"]
)
def test_garbage_base64(body: str) -> None:
    with pytest.raises(TokenFormatError):
        parse_token("007" + body)


def test_non_canonical_base64_spelling_is_refused() -> None:
    token = next(t for t in (user_token(), wrap(b"A"), wrap(b"AB")) if t.endswith("="))
    last, raw = len(token.rstrip("=")) - 1, base64.b64decode(token[3:])
    loose = [
        token[:last] + c + token[last + 1 :]
        for c in B64_ALPHABET
        if c != token[last] and base64.b64decode(token[3:last] + c + token[last + 1 :]) == raw
    ]
    assert loose  # the last quantum carries spare bits, so other spellings decode the same
    for spelling in loose:
        with pytest.raises(TokenFormatError, match="canonical"):
            parse_token(spelling)


def test_trailing_bytes_are_refused_even_when_signed() -> None:
    chat = service(CHAT_SERVICE, {PRIVILEGE_USER: 3600}, s(USER))
    with pytest.raises(TokenFormatError, match="trailing"):
        parse_token(wrap(hand_signed([chat], extra=b"\x00")))
    with pytest.raises(TokenFormatError, match="trailing"):
        parse_token(wrap(hand_signed([chat]), zlib_tail=b"\x00junk"))


def test_not_zlib_and_oversized_inputs() -> None:
    with pytest.raises(TokenFormatError, match="zlib"):
        parse_token("007" + base64.b64encode(b"\x00" * 40).decode())
    with pytest.raises(TokenFormatError, match="size limit"):
        parse_token(wrap(b"\x00" * 1_000_000))  # a ~1 KiB zlib bomb
    with pytest.raises(TokenFormatError, match="too long"):
        parse_token("007" + "A" * 20_000)


def test_structural_oddities_are_format_errors() -> None:
    chat = service(CHAT_SERVICE, {1: 60}, s(USER))
    cases = {
        "unknown service type 6": [service(6, {1: 60}, s("c") + s("u"))],
        "unknown service type 0": [service(0, {})],
        "duplicate privilege": [struct.pack("<HHHIHI", CHAT_SERVICE, 2, 1, 60, 1, 61) + s(USER)],
        "UTF-8": [service(CHAT_SERVICE, {1: 60}, s(b"\xff\xfe"))],
    }  # fmt: skip
    for reason, services in cases.items():
        with pytest.raises(TokenFormatError, match=reason):
            parse_token(wrap(hand_signed(services)))
    short_sig = s(b"\x00" * 31) + hand_signed([chat])[34:]
    with pytest.raises(TokenFormatError, match="32 bytes"):
        parse_token(wrap(short_sig))


# --- privileges and time ----------------------------------------------------------------


def test_expiry_is_relative_and_inclusive() -> None:
    token = user_token()
    assert verify(token, now_s=T0 + 3600).expires_at_s == T0 + 3600
    assert chat_error(token, ErrorCode.USER_AUTHENTICATION_FAILED, now_s=T0 + 3601).description == (
        "token expired"
    )


def test_privilege_expiry_shortens_the_token() -> None:
    token = wrap(hand_signed([service(CHAT_SERVICE, {PRIVILEGE_USER: 60}, s(USER))]))
    assert verify(token, now_s=T0 + 60).expires_at_s == T0 + 60
    chat_error(token, ErrorCode.USER_AUTHENTICATION_FAILED, now_s=T0 + 61)


def test_zero_privilege_is_limited_by_the_token_expiry() -> None:
    token = wrap(hand_signed([service(CHAT_SERVICE, {PRIVILEGE_USER: 0}, s(USER))]))
    assert verify(token, now_s=T0 + 3600).expires_at_s == T0 + 3600
    chat_error(token, ErrorCode.USER_AUTHENTICATION_FAILED, now_s=T0 + 3601)


def test_future_issue_time_beyond_skew_is_invalid() -> None:
    token = user_token()
    assert verify(token, now_s=T0 - 300).issue_ts == T0
    chat_error(token, ErrorCode.INVALID_TOKEN, now_s=T0 - 301)
    chat_error(token, ErrorCode.INVALID_TOKEN, now_s=T0 - 11, skew_s=10)


def test_app_and_user_privileges_are_not_interchangeable() -> None:
    app = build_chat_app_token(APP_ID, CERT, 3600, issue_ts=T0)
    chat_error(app, ErrorCode.INVALID_TOKEN, privilege=PRIVILEGE_USER)
    chat_error(user_token(), ErrorCode.INVALID_TOKEN, privilege=PRIVILEGE_APP)


def test_user_privilege_needs_a_user_id_and_one_granting_service() -> None:
    empty = wrap(hand_signed([service(CHAT_SERVICE, {PRIVILEGE_USER: 60}, s(""))]))
    chat_error(empty, ErrorCode.INVALID_TOKEN)
    twice = [service(CHAT_SERVICE, {PRIVILEGE_USER: 60}, s(u)) for u in (USER, "mallory")]
    chat_error(wrap(hand_signed(twice)), ErrorCode.INVALID_TOKEN)


def multi_service_payload(*, salt: int, java_order: bool) -> bytes:
    rtc = service(1, {1: 3600, 2: 3600}, s("room-1") + s("42"))
    rtm = service(2, {1: 3600}, s("rtm-user"))
    streaming = service(3, {1: 3600}, s("live") + s(""))
    fpa = service(4, {1: 3600})
    chat = service(CHAT_SERVICE, {PRIVILEGE_USER: 1800}, s(USER))
    edu = service(7, {1: 3600, 2: 3600}, s("room-uuid") + s(USER) + struct.pack("<h", -1))
    order = [rtc, rtm, streaming, fpa, chat, edu] if java_order else [edu, chat, rtc, fpa]
    return hand_signed(order, salt=salt)


@pytest.mark.parametrize("java_order", [True, False])
def test_multi_service_token_with_java_salt(java_order: bool) -> None:
    token = wrap(multi_service_payload(salt=JAVA_SALT, java_order=java_order))
    parsed = parse_token(token)
    by_type = {svc.service_type: svc for svc in parsed.services}
    assert parsed.salt == JAVA_SALT
    assert by_type[1].fields == ("room-1", "42")
    assert by_type[7].fields == ("room-uuid", USER, -1)
    assert by_type[4].fields == ()
    assert verify(token).expires_at_s == T0 + 1800
    chat_error(token, ErrorCode.INVALID_TOKEN, privilege=PRIVILEGE_APP)


# --- fuzzing ----------------------------------------------------------------------------


def _only_format_errors(token: str) -> None:
    try:
        parse_token(token)
    except TokenFormatError:
        pass
    with pytest.raises(ChatError) as info:  # never valid: no certificate signed these
        verify(token)
    assert info.value.code == ErrorCode.INVALID_TOKEN


@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    _only_format_errors("007" + base64.b64encode(data).decode())
    _only_format_errors(wrap(data))


@given(st.text(max_size=200))
def test_fuzz_random_text(text: str) -> None:
    _only_format_errors("007" + text)


@given(st.data())
def test_fuzz_mutated_real_payloads(data: st.DataObject) -> None:
    payload = bytearray(multi_service_payload(salt=JAVA_SALT, java_order=True))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(payload) - 1))
        payload[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(payload)))
    mutated = bytes(payload[:cut])
    if mutated != multi_service_payload(salt=JAVA_SALT, java_order=True):
        _only_format_errors(wrap(mutated))


# --- cross-check with npm agora-token ---------------------------------------------------

Node = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
TOOL = npm.WEBSDK_DIR / "token_tool.js"


@pytest.fixture(scope="module")
def node() -> Node:
    node_path = npm.node_executable()
    if npm.ensure_node_modules() is None or node_path is None:
        pytest.skip(f"npm agora-token unavailable: {npm.unavailable_reason()}")

    def run(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = subprocess.run(
            [node_path, str(TOOL)],
            input=json.dumps(requests), capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        results: list[dict[str, Any]] = json.loads(done.stdout)
        assert not [r for r in results if "error" in r], results
        return results

    return run


NODE_ARGS = {"appId": APP_ID, "appCertificate": CERT}


def test_node_minted_tokens_verify_with_ours(node: Node) -> None:
    before = int(time.time())
    user, app = node([
        {"op": "chat_user", **NODE_ARGS, "userUuid": USER, "expire": 600},
        {"op": "chat_app", **NODE_ARGS, "expire": 900},
    ])  # fmt: skip
    for result, privilege, user_id, expire in ((user, 1, USER, 600), (app, 2, "", 900)):
        parsed = parse_token(result["token"])
        assert before - 5 <= parsed.issue_ts <= before + 60  # Node stamps its own clock
        assert 1 <= parsed.salt <= 99_999_999 and parsed.expire == expire
        assert parsed.services == (ParsedService(CHAT_SERVICE, {privilege: expire}, (user_id,)),)
        ok = verify(result["token"], now_s=parsed.issue_ts + expire, privilege=privilege)
        assert ok == VerifiedChatToken(APP_ID, user_id, parsed.issue_ts, parsed.issue_ts + expire)
        wrong = {APP_ID: OTHER_CERT}.get
        with pytest.raises(ChatError):
            verify_chat_token(result["token"], certificate_for=wrong, now_s=T0, privilege=privilege)


def test_our_tokens_verify_with_node(node: Node) -> None:
    ours = [
        user_token(),
        build_chat_user_token(APP_ID, CERT, USER, 60, issue_ts=T0, salt=JAVA_SALT),
        build_chat_app_token(APP_ID, CERT, 86_400, issue_ts=T0, salt=2**31),
    ]
    results = node(
        [{"op": "parse", "token": t, "appCertificate": c} for t in ours for c in (CERT, OTHER_CERT)]
    )
    for token, good, bad in zip(ours, results[::2], results[1::2], strict=True):
        parsed = parse_token(token)
        assert good["parsed"] and good["signatureValid"] and not bad["signatureValid"]
        assert (good["appId"], good["issueTs"], good["expire"], good["salt"]) == (
            APP_ID, T0, parsed.expire, parsed.salt,
        )  # fmt: skip
        (svc,) = parsed.services
        assert good["services"] == [{
            "type": CHAT_SERVICE,
            "privileges": {str(k): v for k, v in svc.privileges.items()},
            "fields": {"user_id": svc.fields[0]},
        }]  # fmt: skip
        assert bytes.fromhex(good["payloadHex"]) == payload_of(token)


def test_same_inputs_give_the_same_payload_as_node(
    node: Node,
) -> None:
    cases = [(USER, PRIVILEGE_USER, 42), ("", PRIVILEGE_APP, JAVA_SALT)]
    results = node([
        {"op": "chat_fixed", **NODE_ARGS, "userUuid": user, "privilege": priv, "expire": 3600,
         "issueTs": T0, "salt": salt}
        for user, priv, salt in cases
    ])  # fmt: skip
    for (user, priv, salt), result in zip(cases, results, strict=True):
        if priv == PRIVILEGE_USER:
            ours = build_chat_user_token(APP_ID, CERT, user, 3600, issue_ts=T0, salt=salt)
        else:
            ours = build_chat_app_token(APP_ID, CERT, 3600, issue_ts=T0, salt=salt)
        # Node's bundled zlib may deflate differently, so compare the inflated bytes.
        assert payload_of(result["token"]) == payload_of(ours)
        assert verify(result["token"], privilege=priv).user_id == user


def test_node_parses_our_hand_built_multi_service_token(node: Node) -> None:
    token = wrap(multi_service_payload(salt=JAVA_SALT, java_order=True))
    (result,) = node([{"op": "parse", "token": token, "appCertificate": CERT}])
    assert result["parsed"] and result["signatureValid"] and result["salt"] == JAVA_SALT
    types = [svc["type"] for svc in result["services"]]
    assert types == [svc.service_type for svc in parse_token(token).services] == [1, 2, 3, 4, 5, 7]
    rtc, edu = result["services"][0], result["services"][5]
    assert rtc["fields"] == {"channel_name": "room-1", "uid": "42"}
    # agora-token 2.0.6 reads the i16 education role as unsigned; we read it signed.
    assert edu["fields"]["role"] == 0xFFFF
