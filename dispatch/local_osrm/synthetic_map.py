"""Deterministic synthetic OSM road network of the Lausanne-Geneva area.

The map only has to be realistic enough that OSRM answers look like real trips (tens of
minutes between the two cities, slow city streets, a fast lake motorway) while staying small.
It is built from:

- a country grid of unclassified roads, every 4th line secondary and every 8th primary, with
  Lake Geneva cut out;
- dense residential grids in Geneva, Nyon, Morges and Lausanne, alternate streets one-way,
  joined to the country grid by tertiary connectors;
- the A1 motorway along the lake as two one-way carriageways with junctions every few km.

A `MapSpec` sets the two mesh sizes: `FULL_MAP` (1.2 km country, 200 m city; ~400 KB of OSM,
for benchmarks) and `TEST_MAP` (twice as coarse, ~130 KB, for the test suite). Grids are the
worst case for contraction hierarchies, so preparing CH takes about a minute for the full map
and a few seconds for the test map; both cover the same area, so `land_points` serves both.

No randomness in the map: the same code always writes the same bytes, so a hash of the output is a
valid cache key for the prepared OSRM files.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from dispatch.engine.geo import Location

MIN_LAT, MAX_LAT = 46.15, 46.60
MIN_LON, MAX_LON = 6.05, 6.75

# Rough northern shore of Lake Geneva, west to east (lat, lon). Points south of it and north
# of SOUTH_SHORE are water; the lake reaches past the east edge of the box, so the French
# side is only reachable around Geneva, as in reality.
NORTH_SHORE: tuple[tuple[float, float], ...] = (
    (46.215, 6.155),
    (46.300, 6.170),
    (46.375, 6.245),
    (46.455, 6.335),
    (46.500, 6.470),
    (46.505, 6.560),
    (46.505, 6.640),
    (46.485, 6.750),
)
SOUTH_SHORE: tuple[tuple[float, float], ...] = (
    (46.215, 6.155),
    (46.260, 6.200),
    (46.320, 6.300),
    (46.370, 6.420),
    (46.395, 6.530),
    (46.400, 6.640),
    (46.395, 6.750),
)

# A1 motorway from Geneva airport to Lausanne-Vennes (lat, lon), ~1.5 km inland.
MOTORWAY: tuple[tuple[float, float], ...] = (
    (46.235, 6.110),
    (46.300, 6.150),
    (46.390, 6.225),
    (46.470, 6.315),
    (46.520, 6.460),
    (46.540, 6.560),
    (46.545, 6.610),
    (46.540, 6.670),
)
MOTORWAY_NODE_SPACING_KM = 0.8
MOTORWAY_JUNCTION_EVERY = 6  # motorway nodes between junctions (~5 km)


@dataclass(frozen=True)
class City:
    name: str
    lat: float
    lon: float
    half_size_deg: float  # half side of the square residential grid


CITIES: tuple[City, ...] = (
    City("geneva", 46.204, 6.143, 0.018),
    City("nyon", 46.383, 6.239, 0.008),
    City("morges", 46.511, 6.498, 0.008),
    City("lausanne", 46.525, 6.630, 0.018),
)


@dataclass(frozen=True)
class MapSpec:
    """The mesh sizes of one map; every map covers the same area with the same cities.

    `name` labels the prepared files (`.osrm/maps/<name>-<hash>/`); the hash covers the bytes,
    so two specs never share a folder even under one name.
    """

    name: str
    country_step_deg: float
    city_step_deg: float


# Benchmarks and `python -m dispatch.local_osrm.server`: ~1.2 km country mesh (0.85 km
# east-west at 46.4°N), 200 m city streets. osrm-contract (CH) needs about a minute on 2 idle
# cores: grids are the worst case for contraction hierarchies.
FULL_MAP = MapSpec("full", country_step_deg=0.011, city_step_deg=0.0018)
# Tests: the same roads at twice the spacing, a quarter of the nodes; prepared in seconds.
TEST_MAP = MapSpec("test", country_step_deg=0.022, city_step_deg=0.0036)


@dataclass
class _Builder:
    nodes: list[tuple[float, float]] = field(default_factory=list)
    ways: list[tuple[list[int], dict[str, str]]] = field(default_factory=list)

    def node(self, lat: float, lon: float) -> int:
        self.nodes.append((round(lat, 7), round(lon, 7)))
        return len(self.nodes)  # OSM ids start at 1

    def way(self, refs: Sequence[int], tags: dict[str, str]) -> None:
        if len(refs) >= 2:
            self.ways.append((list(refs), tags))


def _interp(line: Sequence[tuple[float, float]], lon: float) -> float:
    for (lat0, lon0), (lat1, lon1) in itertools.pairwise(line):
        if lon0 <= lon <= lon1:
            t = (lon - lon0) / (lon1 - lon0) if lon1 != lon0 else 0.0
            return lat0 + t * (lat1 - lat0)
    return math.nan


def in_lake(lat: float, lon: float) -> bool:
    """True for points on the water (used to keep roads and test locations off the lake)."""
    north, south = _interp(NORTH_SHORE, lon), _interp(SOUTH_SHORE, lon)
    return not math.isnan(north) and south < lat < north


def land_points(n: int, seed: int = 0) -> list[Location]:
    """`n` distinct pseudo-random points on land inside the map, rounded to 5 decimals.

    Deterministic per seed, for tests and benchmarks that need realistic trip ends.
    """
    rng = random.Random(seed)
    points: dict[Location, None] = {}
    while len(points) < n:
        lat = round(rng.uniform(MIN_LAT + 0.01, MAX_LAT - 0.01), 5)
        lon = round(rng.uniform(MIN_LON + 0.01, MAX_LON - 0.01), 5)
        if not in_lake(lat, lon):
            points[Location(lat, lon)] = None
    return list(points)


def _city_of(lat: float, lon: float) -> City | None:
    for city in CITIES:
        if abs(lat - city.lat) <= city.half_size_deg and abs(lon - city.lon) <= city.half_size_deg:
            return city
    return None


def _steps(lo: float, hi: float, step: float) -> list[float]:
    return [lo + i * step for i in range(int((hi - lo) / step + 1e-9) + 1)]


def _split_runs(ids: Iterable[int | None]) -> list[list[int]]:
    """Split a node line at gaps (None = removed node: lake or city interior)."""
    runs: list[list[int]] = [[]]
    for node_id in ids:
        if node_id is None:
            runs.append([])
        else:
            runs[-1].append(node_id)
    return [run for run in runs if len(run) >= 2]


def _country_tags(index: int) -> dict[str, str]:
    if index % 8 == 0:
        return {"highway": "primary", "maxspeed": "80"}
    if index % 4 == 0:
        return {"highway": "secondary", "maxspeed": "80"}
    return {"highway": "unclassified", "maxspeed": "60"}


def _add_country_grid(b: _Builder, spec: MapSpec) -> dict[tuple[int, int], int]:
    lats, lons = (
        _steps(MIN_LAT, MAX_LAT, spec.country_step_deg),
        _steps(MIN_LON, MAX_LON, spec.country_step_deg),
    )
    grid: dict[tuple[int, int], int] = {}
    for i, lat in enumerate(lats):
        for j, lon in enumerate(lons):
            if not in_lake(lat, lon) and _city_of(lat, lon) is None:
                grid[i, j] = b.node(lat, lon)
    for i in range(len(lats)):
        for run in _split_runs(grid.get((i, j)) for j in range(len(lons))):
            b.way(run, _country_tags(i))
    for j in range(len(lons)):
        for run in _split_runs(grid.get((i, j)) for i in range(len(lats))):
            b.way(run, _country_tags(j))
    return grid


def _add_city(b: _Builder, city: City, spec: MapSpec) -> list[int]:
    """Add a residential grid; return its border node ids (for connectors)."""
    offsets = _steps(-city.half_size_deg, city.half_size_deg, spec.city_step_deg)
    ids: dict[tuple[int, int], int] = {}
    for i, dlat in enumerate(offsets):
        for j, dlon in enumerate(offsets):
            if not in_lake(city.lat + dlat, city.lon + dlon):
                ids[i, j] = b.node(city.lat + dlat, city.lon + dlon)
    last = len(offsets) - 1
    for k in range(len(offsets)):
        for axis in (0, 1):
            line = [ids.get((k, m) if axis == 0 else (m, k)) for m in range(len(offsets))]
            # Inner streets alternate one-way direction like a city centre. Border streets,
            # every 4th street and streets cut by the lake stay two-way: a one-way street
            # ending at the shore would be a trap and split the graph.
            one_way = k not in (0, last) and k % 4 != 0 and None not in line
            for run in _split_runs(line):
                tags = {"highway": "residential", "maxspeed": "30" if one_way else "50"}
                if one_way:
                    tags["oneway"] = "yes"
                b.way(run[::-1] if one_way and k % 2 == 0 else run, tags)
    return [nid for (i, j), nid in ids.items() if i in (0, last) or j in (0, last)]


def _nearest(b: _Builder, candidates: Iterable[int], lat: float, lon: float) -> int:
    return min(candidates, key=lambda n: _sq_dist(b.nodes[n - 1], (lat, lon)))


def _sq_dist(p: tuple[float, float], q: tuple[float, float]) -> float:
    dlon = (p[1] - q[1]) * math.cos(math.radians(46.4))
    return (p[0] - q[0]) ** 2 + dlon**2


def _connect_city(
    b: _Builder, city: City, border: list[int], grid: dict[tuple[int, int], int], spec: MapSpec
) -> None:
    reach = city.half_size_deg + 1.5 * spec.country_step_deg
    outside = [
        nid
        for nid in grid.values()
        if abs(b.nodes[nid - 1][0] - city.lat) <= reach
        and abs(b.nodes[nid - 1][1] - city.lon) <= reach
    ]
    for nid in outside:
        lat, lon = b.nodes[nid - 1]
        b.way([nid, _nearest(b, border, lat, lon)], {"highway": "tertiary", "maxspeed": "50"})


def _motorway_points() -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for (lat0, lon0), (lat1, lon1) in itertools.pairwise(MOTORWAY):
        km = math.sqrt(_sq_dist((lat0, lon0), (lat1, lon1))) * 111.2
        n = max(1, round(km / MOTORWAY_NODE_SPACING_KM))
        points += [(lat0 + (lat1 - lat0) * t / n, lon0 + (lon1 - lon0) * t / n) for t in range(n)]
    return [*points, MOTORWAY[-1]]


def _add_motorway(b: _Builder, local: list[int]) -> None:
    points = _motorway_points()
    # Two carriageways ~20 m apart: car.lua treats motorways as one-way by default.
    east = [b.node(lat, lon) for lat, lon in points]
    west = [b.node(lat - 0.0002, lon) for lat, lon in points]
    tags = {"highway": "motorway", "maxspeed": "120", "oneway": "yes", "ref": "A1"}
    b.way(east, tags)
    b.way(west[::-1], tags)
    link = {"highway": "motorway_link", "maxspeed": "80", "oneway": "no"}
    for k in [*range(0, len(points), MOTORWAY_JUNCTION_EVERY), len(points) - 1]:
        lat, lon = points[k]
        target = _nearest(b, local, lat, lon)
        b.way([east[k], target], link)
        b.way([west[k], target], link)


def build(spec: MapSpec = FULL_MAP) -> _Builder:
    b = _Builder()
    grid = _add_country_grid(b, spec)
    local = list(grid.values())
    for city in CITIES:
        border = _add_city(b, city, spec)
        _connect_city(b, city, border, grid, spec)
        local += border
    _add_motorway(b, local)
    return b


def render(b: _Builder) -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<osm version="0.6" generator="atmr-synthetic-map">',
        f'  <bounds minlat="{MIN_LAT}" minlon="{MIN_LON}" maxlat="{MAX_LAT}" maxlon="{MAX_LON}"/>',
    ]
    for node_id, (lat, lon) in enumerate(b.nodes, start=1):
        lines.append(f'  <node id="{node_id}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for way_id, (refs, tags) in enumerate(b.ways, start=1):
        lines.append(f'  <way id="{way_id}" version="1">')
        lines += [f'    <nd ref="{ref}"/>' for ref in refs]
        lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in sorted(tags.items())]
        lines.append("  </way>")
    lines.append("</osm>")
    return "\n".join(lines) + "\n"


def generate(spec: MapSpec = FULL_MAP) -> bytes:
    """The OSM XML document of `spec`, UTF-8 encoded; identical bytes on every call."""
    return render(build(spec)).encode()


def write(path: Path, spec: MapSpec = FULL_MAP) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(generate(spec))
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="where to write the .osm file")
    parser.add_argument("--map", choices=[FULL_MAP.name, TEST_MAP.name], default=FULL_MAP.name)
    args = parser.parse_args(argv)
    print(write(args.output, TEST_MAP if args.map == TEST_MAP.name else FULL_MAP))


if __name__ == "__main__":
    main()
