"""Per-cell cache of OSRM travel times keyed by rounded coordinate pairs.

Granularity is one directed cell (a to b), not one matrix: consecutive dispatch runs share
most of their points but rarely all, and a cell cache lets a run reuse every pair it has seen
regardless of which other points came along. Keys look like
`<prefix>:46.51900,6.63300>46.20400,6.14300` (5 decimals by default, about 1 m; the prefix
names the profile and map version, so bumping it after a map update orphans old entries).

Values are `(seconds, metres)` int tuples; `UNREACHABLE` records that OSRM found no route,
so the pair is not asked again until the entry expires.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from dispatch.engine.geo import Location
from dispatch.engine.kvstore import KeyValueStore

Cell = tuple[int, int]  # (seconds, metres)
UNREACHABLE: Cell = (-1, -1)
_BATCH = 5_000  # keys per get_many/set_many: keeps one Redis round trip under ~0.5 MB


class CellCache:
    def __init__(
        self, store: KeyValueStore, *, prefix: str, ttl_s: float | None, decimals: int = 5
    ) -> None:
        self._store = store
        self._prefix = prefix
        self._ttl_s = ttl_s
        self.decimals = decimals

    def round(self, location: Location) -> Location:
        return Location(round(location.lat, self.decimals), round(location.lon, self.decimals))

    def key(self, a: Location, b: Location) -> str:
        return f"{self._prefix}:{self._text(a)}>{self._text(b)}"

    def _text(self, p: Location) -> str:
        return f"{p.lat:.{self.decimals}f},{p.lon:.{self.decimals}f}"

    def _keys(
        self, points: Sequence[Location], pairs: Iterable[tuple[int, int]]
    ) -> Iterable[tuple[str, tuple[int, int]]]:
        # Formatting each point once instead of once per pair: 150 points make 22,350 keys.
        heads = [f"{self._prefix}:{self._text(p)}>" for p in points]
        tails = [self._text(p) for p in points]
        return ((heads[i] + tails[j], (i, j)) for i, j in pairs)

    def get_many(
        self, points: Sequence[Location], pairs: Iterable[tuple[int, int]]
    ) -> dict[tuple[int, int], Cell]:
        """Cached cells among `pairs` (indices into `points`); absent ones are left out."""
        by_key = dict(self._keys(points, pairs))
        keys = list(by_key)
        found: dict[tuple[int, int], Cell] = {}
        for start in range(0, len(keys), _BATCH):
            for key, value in self._store.get_many(keys[start : start + _BATCH]).items():
                found[by_key[key]] = (int(value[0]), int(value[1]))
        return found

    def set_many(self, points: Sequence[Location], cells: Mapping[tuple[int, int], Cell]) -> None:
        keys = self._keys(points, cells)
        items = [(key, cells[pair]) for key, pair in keys]
        for start in range(0, len(items), _BATCH):
            self._store.set_many(dict(items[start : start + _BATCH]), timeout=self._ttl_s)
