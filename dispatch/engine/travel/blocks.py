"""Split the missing cells of a travel matrix into OSRM `/table` requests.

A request (`Block`) asks for sources x destinations over the union of their coordinates, and
that union must not exceed `max_table_size`. We keep sources + destinations <= max_table_size,
which is stricter than osrm-routed 26's own check (sources x destinations <= max^2), bounds
the URL length, and still lets a 100-coordinate server answer 50 x 50 cells per request.

Two plans are built and the cheaper one is used:

- grouped: rows whose every off-diagonal cell is missing (new points) form one rectangle
  against all columns; the other rows are grouped by their exact set of missing columns.
  This fetches only missing cells, which is the common case of "same locations as last
  time plus a few new ones".
- tiled: the square is cut into fixed tiles and each tile fetches the bounding rectangle of
  its missing cells. It may re-fetch cached cells but never needs many requests.

Grouped wins unless it needs more than twice as many requests as tiled (scattered expiries).

For an osrm-routed running MLD, `one_to_many` then sends a block of one or two sources
against many destinations (or the reverse: a new trip's pick-up and drop-off against the
known points) as one request per source (see there).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """One `/table` request over point indices: every source to every destination."""

    sources: tuple[int, ...]
    destinations: tuple[int, ...]

    @property
    def coordinates(self) -> tuple[int, ...]:
        """Point indices to send, in order, without repeats (sources first)."""
        return tuple(dict.fromkeys(self.sources + self.destinations))

    def cells(self) -> list[tuple[int, int]]:
        return [(s, d) for s in self.sources for d in self.destinations if s != d]


def plan_blocks(missing: Mapping[int, Set[int]], n_points: int, max_table_size: int) -> list[Block]:
    """Blocks covering every missing cell (`missing[row]` = columns), each within the limit."""
    if max_table_size < 2:
        raise ValueError("max_table_size must be at least 2")
    missing = {row: cols for row, cols in missing.items() if cols}
    if not missing:
        return []
    grouped = _grouped(missing, n_points, max_table_size)
    tiled = _tiled(missing, n_points, max_table_size)
    return grouped if len(grouped) <= 2 * len(tiled) else tiled


# `one_to_many`: blocks with at most this many sources (or destinations) against at least
# ONE_TO_MANY_OTHERS points on the other side go as one request per source (destination).
ONE_TO_MANY_ROWS = 2
ONE_TO_MANY_OTHERS = 16


def one_to_many(blocks: Sequence[Block]) -> list[Block]:
    """`blocks` with each one of up to ONE_TO_MANY_ROWS sources (or destinations) against
    many points cut into one block per source (destination); the others as they are.

    osrm-routed's MLD answers a table with a single source or a single destination with one
    one-to-many search, and any other with a search per coordinate: on the synthetic map
    (table size 1000, load ~3) 2 x 152 took 72-134 ms, 1 x 152 16-24 ms. The new trip's two
    points against 20 drivers' stops (2 x 150 and 150 x 2, sent concurrently) took 117 ms as
    two requests and 45 ms as four. CH answers both shapes at about the same cost, so cut
    blocks only double its work (28 ms as two requests, 63 ms as four): MLD only
    (`OsrmMatrixProvider(one_to_many=True)`, settings.OSRM_ALGORITHM)."""
    out: list[Block] = []
    for block in blocks:
        rows, cols = block.sources, block.destinations
        if len(rows) <= ONE_TO_MANY_ROWS and len(cols) >= ONE_TO_MANY_OTHERS:
            out += [Block((row,), cols) for row in rows]
        elif len(cols) <= ONE_TO_MANY_ROWS and len(rows) >= ONE_TO_MANY_OTHERS:
            out += [Block(rows, (col,)) for col in cols]
        else:
            out.append(block)
    return out


def split_rectangle(rows: Sequence[int], cols: Sequence[int], max_table_size: int) -> list[Block]:
    """Cut rows x cols into blocks with len(sources) + len(destinations) <= max_table_size."""
    if len(rows) + len(cols) <= max_table_size:
        return [Block(tuple(rows), tuple(cols))]
    half = max_table_size // 2
    # Give a short side all of it and the long side the rest of the budget: fewer requests
    # than an even split when, say, 3 new points meet 150 known ones.
    if len(rows) <= half:
        per_row, per_col = len(rows), max_table_size - len(rows)
    elif len(cols) <= half:
        per_row, per_col = max_table_size - len(cols), len(cols)
    else:
        per_row, per_col = half, max_table_size - half
    return [
        Block(tuple(rows[r : r + per_row]), tuple(cols[c : c + per_col]))
        for r in range(0, len(rows), per_row)
        for c in range(0, len(cols), per_col)
    ]


def _grouped(missing: Mapping[int, Set[int]], n: int, limit: int) -> list[Block]:
    full = sorted(row for row, cols in missing.items() if len(cols) >= n - 1)
    blocks = split_rectangle(full, range(n), limit) if full else []
    by_cols: dict[frozenset[int], list[int]] = defaultdict(list)
    full_set = set(full)
    for row, cols in missing.items():
        if row not in full_set:
            by_cols[frozenset(cols)].append(row)
    for cols, rows in by_cols.items():
        blocks += split_rectangle(sorted(rows), sorted(cols), limit)
    return blocks


def _tiled(missing: Mapping[int, Set[int]], n: int, limit: int) -> list[Block]:
    side = limit // 2
    blocks: list[Block] = []
    for r0 in range(0, n, side):
        for c0 in range(0, n, side):
            rows = [r for r in range(r0, min(n, r0 + side)) if r in missing]
            cols = {c for r in rows for c in missing[r] if c0 <= c < c0 + side}
            rows = [r for r in rows if any(c0 <= c < c0 + side for c in missing[r])]
            if rows and cols:
                blocks.append(Block(tuple(rows), tuple(sorted(cols))))
    return blocks
