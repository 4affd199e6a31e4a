"""Travel-matrix providers: the straight-line estimate and OSRM with cache and fallback."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from dispatch.engine import straight_line
from dispatch.engine.closing import ClosesOnExit
from dispatch.engine.geo import Location, TravelMatrix
from dispatch.engine.kvstore import InMemoryStore, KeyValueStore
from dispatch.engine.osrm import CIRCUIT_OPEN, OsrmClient, OsrmError
from dispatch.engine.travel.blocks import Block, one_to_many, plan_blocks, split_rectangle
from dispatch.engine.travel.breaker import BreakerState, CircuitBreaker
from dispatch.engine.travel.cell_cache import UNREACHABLE, Cell, CellCache

log = logging.getLogger(__name__)

Pair = tuple[int, int]


class MatrixProvider(Protocol):
    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        """Square matrix over `locations` in order: seconds and metres, zero diagonal."""
        ...


class GroupsProvider(Protocol):
    def matrices(self, groups: Sequence[Sequence[Location]]) -> list[TravelMatrix]:
        """One square matrix per group of locations, each as `matrix(group)` gives it."""
        ...


class PairProvider(Protocol):
    def pairs(self, locations: Sequence[Location], pairs: Iterable[Pair]) -> PairTimes:
        """Seconds for the ordered `pairs` of indices into `locations` only."""
        ...


@dataclass(frozen=True)
class PairTimes:
    """Seconds for some ordered pairs of points (indices into the caller's list); `fallback`
    holds the pairs that are straight-line estimates rather than OSRM's answer."""

    seconds: dict[Pair, int]
    fallback: frozenset[Pair]


class StraightLineProvider:
    """Haversine x detour estimate (see straight_line). Every off-diagonal cell counts as a
    fallback cell, so a plan built on it reports `fallback_share == 1.0`."""

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        return straight_line.estimate_matrix(locations)

    def matrices(self, groups: Sequence[Sequence[Location]]) -> list[TravelMatrix]:
        return [self.matrix(group) for group in groups]

    def pairs(self, locations: Sequence[Location], pairs: Iterable[Pair]) -> PairTimes:
        """Seconds for just `pairs`; every pair between distinct points is an estimate."""
        seconds = {(i, j): straight_line.estimate(locations[i], locations[j])[0] for i, j in pairs}
        return PairTimes(
            seconds, frozenset(p for p in seconds if locations[p[0]] != locations[p[1]])
        )

    def route(self, a: Location, b: Location) -> tuple[int, int]:
        return straight_line.estimate(a, b)


class OsrmMatrixProvider(ClosesOnExit):
    """OSRM `/table` matrices, split into blocks, cached per cell, with per-block fallback.

    `matrix()` never raises because OSRM failed: blocks that fail after retries (timeouts,
    5xx, malformed JSON, dropped connections, TooBig, NoSegment) and cells OSRM reports as
    unreachable use the straight-line estimate, counted in `fallback_cells`. When the shared
    circuit breaker is open no request is sent and every missing cell falls back at once.

    Identical points (after rounding to `coord_decimals`) are asked once and cost 0 between
    each other. Holds a connection pool and a thread pool: create one per process and reuse
    it (it is thread-safe); `close()` when done.
    """

    def __init__(
        self,
        base_url: str,
        *,
        store: KeyValueStore | None = None,
        profile: str = "driving",
        timeout_s: float = 5.0,
        max_table_size: int = 100,
        pool_size: int = 4,
        retries: int = 2,
        backoff_s: float = 0.2,
        breaker_failures: int = 5,
        breaker_window_s: float = 30.0,
        breaker_cooldown_s: float = 30.0,
        cache_ttl_s: float | None = 7 * 24 * 3600.0,
        cache_prefix: str = "atmr:osrm:car:v1",
        coord_decimals: int = 5,
        skip_waypoints: bool = True,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        one_to_many: bool = False,
    ) -> None:
        if max_table_size < 2:
            raise ValueError("max_table_size must be at least 2 (one source, one destination)")
        self.store: KeyValueStore = store if store is not None else InMemoryStore()
        self.max_table_size = max_table_size
        # The server runs MLD: one or two points against many go one request each (`blocks`).
        self.one_to_many = one_to_many
        self.cache = CellCache(
            self.store, prefix=cache_prefix, ttl_s=cache_ttl_s, decimals=coord_decimals
        )
        self.breaker = CircuitBreaker(
            self.store,
            name=f"{cache_prefix}:breaker",
            failure_threshold=breaker_failures,
            window_s=breaker_window_s,
            cooldown_s=breaker_cooldown_s,
            probe_timeout_s=2 * timeout_s + 1,
            clock=clock,
        )
        self.client = OsrmClient(
            base_url,
            profile=profile,
            timeout_s=timeout_s,
            pool_size=pool_size,
            retries=retries,
            backoff_s=backoff_s,
            seed=seed,
            breaker=self.breaker,
            skip_waypoints=skip_waypoints,
        )
        self._pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="osrm-table")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.client.close()

    def route(self, a: Location, b: Location) -> tuple[int, int]:
        """(seconds, metres) of OSRM's `/route` answer, rounded. Raises OsrmError on failure
        (unlike `matrix`, there is no silent fallback: callers compare it with the table)."""
        seconds, metres = self.client.route(self.cache.round(a), self.cache.round(b))
        return round(seconds), round(metres)

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        points, index_of = self._unique_points(locations)
        cells, fallback = self._point_cells(points)
        return _expand(locations, points, index_of, cells, fallback)

    def matrices(self, groups: Sequence[Sequence[Location]]) -> list[TravelMatrix]:
        """One matrix per group of locations (each what `matrix(group)` gives), for the
        cells of all of them at once: one cache read, one OSRM fetch of the missing cells
        (their blocks sent together), one cache write. The small days of the drivers a new
        trip might join share that trip's points: asked group by group, each would pay its
        own round trips for them. Cells between points of different groups are not asked."""
        points, flat = self._unique_points([loc for group in groups for loc in group])
        ends = list(itertools.accumulate(len(group) for group in groups))
        index_of = [flat[end - len(group) : end] for group, end in zip(groups, ends, strict=True)]
        wanted = {
            (u, v) for indices in map(set, index_of) for u in indices for v in indices if u != v
        }
        cells, fallback = self._point_cells(points, wanted, sparse=False)
        return [
            _expand(group, points, indices, cells, fallback)
            for group, indices in zip(groups, index_of, strict=True)
        ]

    def pairs(self, locations: Sequence[Location], pairs: Iterable[Pair]) -> PairTimes:
        """Seconds for just `pairs` (the legs of one driver's route: a dozen cells where its
        full matrix has a hundred), with the same cache, breaker and fallback as `matrix`."""
        points, index_of = self._unique_points(locations)
        wanted = {(i, j): (index_of[i], index_of[j]) for i, j in pairs}
        cells, fallback = self._point_cells(
            points, {p for p in wanted.values() if p[0] != p[1]}, sparse=True
        )
        seconds = {pair: cells[u, v][0] if u != v else 0 for pair, (u, v) in wanted.items()}
        return PairTimes(seconds, frozenset(p for p, cell in wanted.items() if cell in fallback))

    def _unique_points(self, locations: Sequence[Location]) -> tuple[list[Location], list[int]]:
        first: dict[Location, int] = {}
        index_of = [first.setdefault(self.cache.round(loc), len(first)) for loc in locations]
        return list(first), index_of

    def _point_cells(
        self, points: list[Location], wanted: Iterable[Pair] | None = None, *, sparse: bool = False
    ) -> tuple[dict[Pair, Cell], set[Pair]]:
        """The `wanted` cells between unique points (default: every off-diagonal one), and
        the set that are estimates. `sparse`: a few scattered pairs (see `_blocks`)."""
        if wanted is None:
            pairs = [(i, j) for i in range(len(points)) for j in range(len(points)) if i != j]
        else:
            pairs = list(wanted)
        cells = self.cache.get_many(points, pairs)
        missing: dict[int, set[int]] = {}
        for i, j in pairs:
            if (i, j) not in cells:
                missing.setdefault(i, set()).add(j)
        if missing:
            fetched = self._fetch(points, self._blocks(missing, len(points), sparse=sparse))
            self.cache.set_many(points, fetched)
            cells.update(fetched)
        fallback = {pair for pair in pairs if cells.get(pair, UNREACHABLE) == UNREACHABLE}
        for i, j in fallback:
            cells[i, j] = straight_line.estimate(points[i], points[j])
        return cells, fallback

    def _blocks(self, missing: dict[int, set[int]], n_points: int, *, sparse: bool) -> list[Block]:
        """A matrix's missing cells by `plan_blocks`; a few scattered pairs (`pairs`: each
        driver's position to its next stop) as one rectangle of their sources by their
        destinations (at most one full table's cells), not one request per pair. Over MLD
        (`one_to_many`), a block of one or two points against many goes as one request per
        point."""
        columns = sorted({c for cols in missing.values() for c in cols})
        half = self.max_table_size // 2
        if not sparse or len(missing) * len(columns) > half * half:
            # Many legs missing (a cold cache): the rectangle would fetch far more than needed.
            blocks = plan_blocks(missing, n_points, self.max_table_size)
        else:
            blocks = split_rectangle(sorted(missing), columns, self.max_table_size)
        return one_to_many(blocks) if self.one_to_many else blocks

    def _fetch(self, points: list[Location], blocks: list[Block]) -> dict[Pair, Cell]:
        """OSRM answers for the blocks that succeeded; failed blocks are simply absent."""
        state = self.breaker.state()
        if state is BreakerState.OPEN or (
            state is BreakerState.HALF_OPEN and not self.breaker.try_acquire_probe()
        ):
            log.warning("OSRM circuit breaker %s: %d blocks use the estimate", state, len(blocks))
            return {}
        fetched: dict[Pair, Cell] = {}
        if state is BreakerState.HALF_OPEN:
            # One request decides whether the server is back; only then fan out the rest.
            probe = self._fetch_block(points, blocks[0], probe=True)
            if probe is None:
                return {}
            fetched.update(probe)
            blocks = blocks[1:]
        for result in self._pool.map(lambda block: self._fetch_block(points, block), blocks):
            fetched.update(result or {})
        return fetched

    def _fetch_block(
        self, points: list[Location], block: Block, *, probe: bool = False
    ) -> dict[Pair, Cell] | None:
        coords = block.coordinates
        position = {point: k for k, point in enumerate(coords)}
        try:
            result = self.client.table(
                [points[k] for k in coords],
                [position[s] for s in block.sources],
                [position[d] for d in block.destinations],
                probe=probe,
            )
        except OsrmError as exc:
            _log_block_failure(exc, block)
            return None
        out: dict[Pair, Cell] = {}
        for r, s in enumerate(block.sources):
            for c, d in enumerate(block.destinations):
                seconds, metres = result.durations[r][c], result.distances[r][c]
                if s == d:
                    continue
                if seconds is None or metres is None:
                    out[s, d] = UNREACHABLE
                else:
                    out[s, d] = (round(seconds), round(metres))
        return out


def _log_block_failure(exc: OsrmError, block: Block) -> None:
    cells = len(block.sources) * len(block.destinations)
    if exc.code == CIRCUIT_OPEN:
        log.info("OSRM breaker opened mid-matrix; %d cells use the estimate", cells)
    elif exc.transient:
        log.warning("OSRM block failed after retries (%s); %d cells use the estimate", exc, cells)
    else:
        # TooBig or NoSegment: a configuration or data problem that retrying will not fix.
        log.error("OSRM rejected a block (%s); %d cells use the estimate", exc, cells)


def _expand(
    locations: Sequence[Location],
    points: Sequence[Location],
    index_of: Sequence[int],
    cells: Mapping[Pair, Cell],
    fallback: set[Pair],
) -> TravelMatrix:
    n = len(locations)
    durations = [[0] * n for _ in range(n)]
    distances = [[0] * n for _ in range(n)]
    fallback_cells = 0
    for i in range(n):
        row_d, row_m, u = durations[i], distances[i], index_of[i]
        for j in range(n):
            v = index_of[j]
            if u != v:
                row_d[j], row_m[j] = cells[u, v]
                fallback_cells += (u, v) in fallback
    return TravelMatrix(durations, distances, fallback_cells)
