"""Benchmark the dispatch solver on Li & Lim PDPTW and Cordeau DARP instances.

Runs the production path (Problem -> solve -> check_plan) and compares with the BKS:

    .venv/bin/python bench/pdptw_bench.py --set lilim100 --limit 30 --time-limit 1
    .venv/bin/python bench/pdptw_bench.py --set darp --time-limit 10

Li & Lim BKS are hierarchical (vehicles, then distance); the gap is on distance.
DARP (a-instances with a BKS) use all m vehicles; the objective is distance.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from instances import Bks, Instance, load_bks, load_cordeau, load_lilim  # noqa: E402

from dispatch.engine.checker import check_plan  # noqa: E402
from dispatch.engine.plan import Plan, StopKind  # noqa: E402
from dispatch.engine.problem import Problem  # noqa: E402
from dispatch.engine.solver import solve  # noqa: E402

DEFAULT_INSTANCES = REPO.parent / "shared" / "bench" / "instances"


@dataclass(frozen=True)
class Row:
    name: str
    vehicles: int
    bks: Bks | None
    distance: float
    unassigned: int
    ride_violations: int
    checker_ok: bool
    seconds: float

    @property
    def gap(self) -> float | None:
        if self.bks is None or self.unassigned:
            return None
        return 100.0 * (self.distance - self.bks.distance) / self.bks.distance


def _spread(paths: list[Path], limit: int) -> list[Path]:
    """`limit` files evenly spread over the sorted list, so every class is represented."""
    if limit >= len(paths):
        return paths
    return [paths[(i * len(paths)) // limit] for i in range(limit)]


def select(root: Path, which: str, limit: int | None) -> list[tuple[Path, str]]:
    if which == "darp":
        names = load_bks(root / "bks_darp.csv")
        files = sorted(p for p in (root / "cordeau_darp").glob("*.txt") if p.stem in names)
        return [(p, "darp") for p in files[: limit or None]]
    sets = {"lilim100": ["pdp_100"], "lilim200": ["pdp_200"], "lilim": ["pdp_100", "pdp_200"]}
    out: list[tuple[Path, str]] = []
    for folder in sets[which]:
        files = sorted((root / "lilim" / folder).glob("*.txt"))
        share = (limit or len(files)) // len(sets[which]) if which == "lilim" else limit
        out += [(p, "lilim") for p in _spread(files, share or len(files))]
    return out


def euclid_distance(instance: Instance, plan: Plan) -> float:
    total = 0.0
    for route in plan.routes:
        path = [s.location for s in route.stops if s.kind is not StopKind.BREAK]
        total += sum(math.dist(instance.points[a], instance.points[b]) for a, b in pairwise(path))
    return total


def float_ride_violations(instance: Instance, plan: Plan) -> int:
    """Rides over L re-measured in the instance's own unit (1e-6 tolerance)."""
    if instance.max_ride is None:
        return 0
    count = 0
    for route in plan.routes:
        left: dict[str, int] = {}
        for stop in route.stops:
            if stop.kind is StopKind.PICKUP and stop.request_id:
                left[stop.request_id] = stop.departure
            elif stop.kind is StopKind.DROPOFF and stop.request_id in left:
                ride = (stop.service_start - left[stop.request_id]) / 1000
                count += ride > instance.max_ride + 1e-6
    return count


def lexicographic_fixed_cost(problem: Problem) -> int:
    """A vehicle price above any plan's whole driving: fewest vehicles first, then distance.

    That is Li & Lim's objective. (DARP's is distance alone with all m vehicles available,
    so it gets no price per vehicle.) The bound: every request on its own depot round trip.
    """
    d, depot = problem.matrix.durations, problem.vehicles[0].start
    return 1 + sum(
        d[depot][r.pickup] + d[r.pickup][r.dropoff] + d[r.dropoff][depot] for r in problem.requests
    )


def run_one(
    path: Path, kind: str, bks: dict[str, Bks], time_limit: float, seed: int, exploration: int
) -> Row:
    instance = load_lilim(path) if kind == "lilim" else load_cordeau(path)
    started = time.monotonic()
    fixed = 0 if kind == "darp" else lexicographic_fixed_cost(instance.problem)
    plan = solve(
        instance.problem,
        time_limit_s=time_limit,
        seed=seed,
        fixed_cost=fixed,
        exploration=exploration,
    )
    seconds = time.monotonic() - started
    ok = not check_plan(instance.problem, plan)
    return Row(
        instance.name, plan.vehicles_used, bks.get(instance.name.lower()),
        euclid_distance(instance, plan), len(plan.unassigned),
        float_ride_violations(instance, plan), ok, seconds,
    )  # fmt: skip


def print_row(row: Row) -> None:
    bks_v = row.bks.vehicles if row.bks else "-"
    bks_d = f"{row.bks.distance:10.2f}" if row.bks else f"{'-':>10}"
    gap = f"{row.gap:7.2f}" if row.gap is not None else f"{'-':>7}"
    print(
        f"{row.name:<10} {row.vehicles:>3}/{bks_v:<3} {row.distance:10.2f} {bks_d} {gap}"
        f" {row.unassigned:>5} {row.ride_violations:>5} {'yes' if row.checker_ok else 'NO':>5}"
        f" {row.seconds:7.2f}",
        flush=True,
    )


def summarize(rows: Sequence[Row]) -> None:
    gaps = [r.gap for r in rows if r.gap is not None]
    hits = sum(1 for r in rows if r.bks and r.vehicles <= r.bks.vehicles and not r.unassigned)
    print(
        f"SUMMARY n={len(rows)} checker_pass={sum(r.checker_ok for r in rows)}/{len(rows)}"
        f" bks_vehicles={hits}/{len(rows)}"
        f" complete={sum(1 for r in rows if not r.unassigned)}/{len(rows)}"
        f" median_gap={statistics.median(gaps) if gaps else float('nan'):.2f}%"
        f" worst_gap={max(gaps) if gaps else float('nan'):.2f}%"
        f" median_s={statistics.median(r.seconds for r in rows):.2f}"
        f" max_s={max(r.seconds for r in rows):.2f}"
        f" ride_violations={sum(r.ride_violations for r in rows)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["lilim", "lilim100", "lilim200", "darp"], default="lilim")
    parser.add_argument("--limit", type=int, default=30, help="instances (spread over the set)")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per instance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exploration", type=int, default=5, help="VROOM's depth, 1..5")
    parser.add_argument("--instances", type=Path, default=DEFAULT_INSTANCES)
    args = parser.parse_args(argv)
    if not (args.instances / "README.md").exists():
        print(f"error: no benchmark instances in {args.instances}", file=sys.stderr)
        return 1
    time_limit = args.time_limit or (10.0 if args.set == "darp" else 1.0)
    bks = load_bks(args.instances / ("bks_darp.csv" if args.set == "darp" else "bks_lilim.csv"))
    print(f"{'instance':<10} {'veh/bks':<7} {'distance':>10} {'bks':>10} {'gap%':>7}"
          f" {'unass':>5} {'ride!':>5} {'check':>5} {'sec':>7}")  # fmt: skip
    rows = []
    for path, kind in select(args.instances, args.set, args.limit):
        row = run_one(path, kind, bks, time_limit, args.seed, args.exploration)
        print_row(row)
        rows.append(row)
    summarize(rows)
    return 0 if all(r.checker_ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
