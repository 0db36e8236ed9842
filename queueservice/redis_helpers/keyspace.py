"""Whole-keyspace chores that are not one queue's: what a test reset needs."""

from __future__ import annotations


def delete_matching(client, pattern: str, *also: str) -> None:
    """Delete every key matching `pattern` (SCAN, on every node of a cluster) and the keys `also`,
    in one pipeline. Not atomic: meant for resets between tests, not for live traffic."""
    pipe = client.pipeline(transaction=False)
    for key in client.scan_iter(match=pattern, count=1000):
        pipe.delete(key)
    for key in also:
        pipe.delete(key)
    pipe.execute()
