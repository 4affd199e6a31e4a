"""The two synthetic maps: the small test map is what the suite routes on, the full one is
for benchmarks; each is prepared once into its own folder and reused."""

from __future__ import annotations

import httpx
import pytest

from dispatch.engine.geo import Location
from dispatch.local_osrm import synthetic_map
from dispatch.local_osrm.install import install
from dispatch.local_osrm.server import map_key, prepare
from dispatch.local_osrm.synthetic_map import FULL_MAP, TEST_MAP, land_points
from tests.factories import GENEVA, LAUSANNE

# Every fixed point the OSRM tests route between, and the random ones they draw.
NAMED = [Location(*LAUSANNE), Location(*GENEVA), Location(46.3833, 6.2390)]
DRAWN = land_points(150, seed=7) + land_points(101, seed=3) + land_points(90, seed=5)


def test_the_test_map_is_a_coarser_map_of_the_same_area() -> None:
    full, test = synthetic_map.build(FULL_MAP), synthetic_map.build(TEST_MAP)
    assert len(test.nodes) * 3 < len(full.nodes)

    def box(nodes: list[tuple[float, float]]) -> tuple[float, float, float, float]:
        lats, lons = [lat for lat, _ in nodes], [lon for _, lon in nodes]
        return min(lats), max(lats), min(lons), max(lons)

    assert box(test.nodes) == pytest.approx(box(full.nodes), abs=0.03)


def test_maps_are_keyed_by_their_parameters_and_reused(osrm_server: str) -> None:
    inst = install()
    maps = [(spec, algorithm) for spec in (FULL_MAP, TEST_MAP) for algorithm in ("mld", "ch")]
    keys = {map_key(inst, synthetic_map.generate(spec), algorithm) for spec, algorithm in maps}
    assert len(keys) == 4
    base = prepare(map_spec=TEST_MAP)  # the session's server prepared it already
    key = map_key(inst, synthetic_map.generate(TEST_MAP), "mld")
    assert base.parent.name == f"test-mld-{key}"
    marker = base.parent / ".prepared"
    before = marker.stat().st_mtime_ns
    assert prepare(map_spec=TEST_MAP) == base
    assert marker.stat().st_mtime_ns == before  # nothing was prepared again


@pytest.mark.parametrize("points", [NAMED, DRAWN], ids=["named", "drawn"])
def test_test_points_lie_on_the_test_map(osrm_server: str, points: list[Location]) -> None:
    # The coarse country mesh is 2.4 km north-south (roads cut by the lake end at the shore):
    # every point snaps to a road within 2 km on its own shore, never to one across the lake.
    with httpx.Client(base_url=osrm_server, timeout=30) as http:
        for p in points:
            answer = http.get(f"/nearest/v1/driving/{p.lon},{p.lat}").json()
            assert answer["code"] == "Ok"
            assert answer["waypoints"][0]["distance"] < 2000, p
