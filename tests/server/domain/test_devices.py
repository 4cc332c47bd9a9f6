"""The device-slot policy: the limit, single-device apps, and re-logins on one resource."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.domain.devices import Admission, admit


def test_under_the_limit() -> None:
    assert admit(4, ["a", "b"], "c") == Admission(replaces=None, kicks=())


def test_the_login_past_the_limit_is_refused() -> None:
    with pytest.raises(ChatError) as err:
        admit(4, ["a", "b", "c", "d"], "e")
    assert err.value.code is ErrorCode.USER_LOGIN_TOO_MANY_DEVICES


def test_same_resource_replaces_even_at_the_limit() -> None:
    assert admit(4, ["a", "b", "c", "d"], "d") == Admission(replaces="d", kicks=())


def test_single_device_logs_the_others_out() -> None:
    assert admit(1, ["phone"], "laptop") == Admission(replaces=None, kicks=("phone",))
    assert admit(1, ["phone"], "phone") == Admission(replaces="phone", kicks=())


@given(
    limit=st.integers(1, 6),
    online=st.sets(st.sampled_from("abcdefgh"), max_size=8),
    resource=st.sampled_from("abcdefgh"),
)
def test_never_more_than_the_limit(limit: int, online: set[str], resource: str) -> None:
    try:
        result = admit(limit, sorted(online), resource)
    except ChatError:
        assert len(online - {resource}) >= limit > 1
        return
    after = (online - set(result.kicks)) | {resource}
    assert len(after) <= limit
    assert limit > 1 or after == {resource}
