"""Merging neighbouring byte ranges of one object into fewer requests.

The one place ranges are merged: the engine asks for exactly the bytes each sample needs,
and a provider whose requests have a round-trip cost fetches close neighbours as one.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_GAP = 64 * 1024  # neighbours closer than this are fetched as one
MAX_SPAN = 64 * 1024 * 1024  # but no merged request larger than this

Group = tuple[int, int, list[tuple[int, int, int]]]  # start, end, [(start, end, position)]


def merge(
    ranges: Sequence[tuple[int, int]], max_gap: int = MAX_GAP, max_span: int = MAX_SPAN
) -> list[Group]:
    """Groups of ranges to fetch as one request each; empty ranges are left out."""
    groups: list[Group] = []
    for s, e, i in sorted((s, e, i) for i, (s, e) in enumerate(ranges) if e > s):
        if groups:
            gs, ge, members = groups[-1]
            if s - ge <= max_gap and max(ge, e) - gs <= max_span:
                groups[-1] = (gs, max(ge, e), members)
                members.append((s, e, i))
                continue
        groups.append((s, e, [(s, e, i)]))
    return groups
