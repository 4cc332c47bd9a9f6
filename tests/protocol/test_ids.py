"""Message ids: 64-bit, time-ordered, strictly increasing even when the clock misbehaves."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kibitz.protocol import IdGenerator, id_timestamp_ms


class SteppedClock:
    def __init__(self, times: list[int]) -> None:
        self.times = times
        self.i = 0

    def __call__(self) -> int:
        t = self.times[min(self.i, len(self.times) - 1)]
        self.i += 1
        return t


@given(st.lists(st.integers(1_600_000_000_000, 1_600_000_100_000), min_size=1, max_size=300))
def test_ids_strictly_increase_whatever_the_clock_does(times: list[int]) -> None:
    gen = IdGenerator(SteppedClock(times), node=7)
    ids = [gen.next_id() for _ in times]
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert all(0 < i < 2**63 for i in ids)


def test_ids_carry_their_time_and_survive_sequence_overflow() -> None:
    gen = IdGenerator(lambda: 1_700_000_000_000)
    ids = [gen.next_id() for _ in range(10_000)]  # > 4096 in one millisecond
    assert len(set(ids)) == 10_000 and ids == sorted(ids)
    assert id_timestamp_ms(ids[0]) == 1_700_000_000_000


def test_node_id_is_bounded() -> None:
    with pytest.raises(ValueError):
        IdGenerator(lambda: 0, node=1024)
