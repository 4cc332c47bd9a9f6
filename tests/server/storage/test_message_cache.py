"""The store's memory: answers only when it knows it is complete, and stays bounded."""

from __future__ import annotations

from kibitz.server.storage.stores.message_cache import MessageCache


def test_unknown_history_defers_to_the_table() -> None:
    cache = MessageCache()
    cache.committed("bob", "alice", 10, b"m10", None)  # nothing known before 10
    cache.load_cursors("bob", "b1", {})
    assert cache.pull("bob", "b1", "alice", 0, 10) is None
    assert cache.pull("bob", "b1", "alice", 10, 10) == []  # past the newest: nothing
    cache.committed("bob", "alice", 11, b"m11", None)  # complete above 10 from now on
    assert cache.pull("bob", "b1", "alice", 10, 10) == [(11, b"m11")]
    assert cache.pull("bob", "b1", "alice", 9, 10) is None


def test_cursors_own_copies_and_limits() -> None:
    cache = MessageCache()
    cache.committed("alice", "alice", 1, b"m1", "a1")
    for i, skip in ((2, "a1"), (3, None), (4, "a2"), (5, None)):
        cache.committed("alice", "alice", i, f"m{i}".encode(), skip)
    assert cache.pull("alice", "a1", "alice", 1, 10) is None  # a1's cursors are not loaded
    cache.load_cursors("alice", "a1", {"alice": 3})
    assert cache.pull("alice", "a1", "alice", 0, 10) == [(4, b"m4"), (5, b"m5")]
    cache.load_cursors("alice", "a2", {})
    assert [i for i, _ in cache.pull("alice", "a2", "alice", 1, 2) or []] == [2, 3]
    cache.acked("alice", "a2", "alice", 5)
    assert cache.pull("alice", "a2", "alice", 0, 10) == []
    cache.forget_device("alice", "a2")
    assert cache.cursor("alice", "a2", "alice") is None


def test_bounded_per_queue_and_in_bytes() -> None:
    cache = MessageCache(per_queue=3, max_bytes=20)
    cache.load_cursors("bob", "b1", {})
    cache.committed("bob", "alice", 1, b"x", None)
    for i in range(2, 7):
        cache.committed("bob", "alice", i, b"12345", None)
    # only the last three are kept: the floor moved to 3
    assert cache.pull("bob", "b1", "alice", 2, 10) is None
    assert [i for i, _ in cache.pull("bob", "b1", "alice", 3, 10) or []] == [4, 5, 6]
    cache.committed("carol", "dave", 1, b"y", None)
    cache.committed("carol", "dave", 2, b"0123456789", None)  # over 20 bytes: oldest queue goes
    assert cache.pull("bob", "b1", "alice", 3, 10) is None
    assert cache.pull("bob", "b1", "alice", 6, 10) == []  # its newest id is still known


def test_a_conversation_queue_is_kept_once_for_every_member_device() -> None:
    cache = MessageCache()
    group, queue = "group:g1", "g1@conference.easemob.com"
    cache.committed(group, queue, 1, b"m1", None)
    for i in (2, 3, 4):
        cache.committed(group, queue, i, f"m{i}".encode(), "alice-id/web")
    cache.committed(group, queue, 5, b"m5", "bob-id/web")
    cache.load_cursors("bob-id", "web", {queue: 2})
    cache.load_cursors("alice-id", "web", {})
    # bob's device on "web" reads past its own cursor and skips only what it sent
    got = cache.pull("bob-id", "web", queue, 0, 10, group, "bob-id/web")
    assert got == [(3, b"m3"), (4, b"m4")]
    assert cache.pull("alice-id", "web", queue, 1, 10, group, "alice-id/web") == [(5, b"m5")]
    assert cache.pull("bob-id", "web", queue, 0, 10) is None  # bob owns no rows there
    cache.acked("bob-id", "web", queue, 5)
    assert cache.pull("bob-id", "web", queue, 0, 10, group, "bob-id/web") == []
