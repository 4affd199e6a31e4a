"""Repair stage: OR-Tools routing with the exact maximum-ride-time rule.

Used when VROOM's plan breaks a ride-time limit (VROOM has no such constraint), and to
search the exact problem when VROOM only saw ride-safe narrowed windows. The model
has pick-up/drop-off pairs, a time dimension whose cumul is the service start, capacity
dimensions for seats and wheelchair places, allowed vehicles per request, and per request
`drop-off start - (pick-up start + pick-up service) <= max_ride` (a constraint, and the
same as a node precedence the search filters see). It starts from VROOM's routes minus
the offending requests, so it only has to re-insert and improve; guided local search runs
until the time limit.

Vehicles with a break are left out: a break "anywhere on the way with nobody on board"
is not expressible as a node here, so their VROOM routes are kept as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from dispatch.engine.plan import Route, Stop, StopKind
from dispatch.engine.problem import Problem, Request, Vehicle
from dispatch.engine.solver.common import Visit, candidate_vehicles

# Unperformed requests cost `unit * (1 + priority)`, where `unit` beats the dearest possible
# insertion (a new vehicle plus four longest legs). Not more: guided local search scales
# its arc penalties with the objective, and a huge drop price in it swamps the distances
# and stalls the search (Cordeau a3-36 kept a request out with 10**9).
PENALTY_LEGS = 4


@dataclass(frozen=True)
class Node:
    """A routing node: where it is (None: the free end of an open route) and its service."""

    location: int | None
    service: int
    earliest: int
    latest: int
    seats: int = 0
    chairs: int = 0
    visit: Visit | None = None


@dataclass(frozen=True)
class RepairResult:
    routes: tuple[Route, ...]
    unassigned: tuple[str, ...]


class _Model:
    def __init__(
        self, problem: Problem, requests: Sequence[Request], vehicles: Sequence[Vehicle]
    ) -> None:
        self.problem, self.vehicles = problem, vehicles
        self.horizon = max(v.shift_end for v in vehicles)
        # A request whose window opens after every one of these shifts has ended (one that
        # only a vehicle with a break, left out here, could serve) cannot be a node: its
        # time range would be empty. It is reported unassigned instead.
        self.asked = requests
        self.requests = [r for r in requests if self._in_horizon(r)]
        self.nodes: list[Node] = []
        self.pairs: dict[str, tuple[int | None, int]] = {}
        self.drop_unit = 0
        starts, ends = [], []
        for v in vehicles:
            onboard = [problem.request(rid) for rid in v.onboard]
            seats, chairs = (
                sum(r.seats for r in onboard),
                sum(r.wheelchairs for r in onboard),
            )
            starts.append(self._add(Node(v.start, 0, v.shift_start, v.shift_end, seats, chairs)))
            ends.append(self._add(Node(v.end, 0, v.shift_start, v.shift_end)))
        for r in self.requests:
            self.pairs[r.id] = self._request_nodes(r)
        self.manager = pywrapcp.RoutingIndexManager(len(self.nodes), len(vehicles), starts, ends)
        self.routing = pywrapcp.RoutingModel(self.manager)

    def _in_horizon(self, r: Request) -> bool:
        drop_earliest, drop_latest = r.dropoff_window
        last = self.horizon if drop_latest is None else min(drop_latest, self.horizon)
        onboard = any(r.id in v.onboard for v in self.vehicles)
        picks = onboard or r.pickup_earliest <= min(r.pickup_latest, self.horizon)
        return picks and drop_earliest <= last

    def _add(self, node: Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def _request_nodes(self, r: Request) -> tuple[int | None, int]:
        drop_earliest, drop_latest = r.dropoff_window
        last = self.horizon if drop_latest is None else min(drop_latest, self.horizon)
        drop = Node(
            r.dropoff,
            r.dropoff_service,
            drop_earliest,
            last,
            -r.seats,
            -r.wheelchairs,
            Visit(StopKind.DROPOFF, r.id),
        )
        if any(r.id in v.onboard for v in self.vehicles):
            return None, self._add(drop)
        pick = Node(
            r.pickup,
            r.pickup_service,
            r.pickup_earliest,
            min(r.pickup_latest, self.horizon),
            r.seats,
            r.wheelchairs,
            Visit(StopKind.PICKUP, r.id),
        )
        return self._add(pick), self._add(drop)

    def travel_matrix(self) -> list[list[int]]:
        """Node-to-node driving seconds (0 to or from the free end of an open route)."""
        d = self.problem.matrix.durations
        where = [n.location for n in self.nodes]
        return [[0 if a is None or b is None else d[a][b] for b in where] for a in where]

    def build(self, fixed_cost: int) -> pywrapcp.RoutingDimension:
        # Native matrices instead of Python callbacks: the search evaluates arcs millions
        # of times, and a Python call per arc is most of the run time.
        routing = self.routing
        drive = self.travel_matrix()
        transit = [
            [node.service + cell for cell in row]
            for node, row in zip(self.nodes, drive, strict=True)
        ]
        self.drop_unit = fixed_cost + PENALTY_LEGS * max(map(max, drive), default=0) + 1
        routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(drive))
        routing.SetFixedCostOfAllVehicles(fixed_cost)
        time_cb = routing.RegisterTransitMatrix(transit)
        routing.AddDimension(time_cb, self.horizon, self.horizon, False, "time")
        time = routing.GetDimensionOrDie("time")
        for k in range(len(self.vehicles)):
            for index in (routing.Start(k), routing.End(k)):
                spec = self.nodes[self.manager.IndexToNode(index)]
                time.CumulVar(index).SetRange(spec.earliest, spec.latest)
        for pick, drop in self.pairs.values():
            for node in (pick, drop):
                if node is not None:
                    spec = self.nodes[node]
                    index = self.manager.NodeToIndex(node)
                    time.CumulVar(index).SetRange(spec.earliest, spec.latest)
        self._capacity("seats", [n.seats for n in self.nodes], [v.seats for v in self.vehicles])
        chairs = [n.chairs for n in self.nodes]
        self._capacity("chairs", chairs, [v.wheelchairs for v in self.vehicles])
        for r in self.requests:
            self._constrain_request(r, time)
        return time

    def _capacity(self, name: str, demands: list[int], capacities: list[int]) -> None:
        cb = self.routing.RegisterUnaryTransitVector(demands)
        self.routing.AddDimensionWithVehicleCapacity(cb, 0, capacities, True, name)

    def _constrain_request(self, r: Request, time: pywrapcp.RoutingDimension) -> None:
        routing, solver = self.routing, self.routing.solver()
        pick, drop = self.pairs[r.id]
        slot = {v.id: k for k, v in enumerate(self.vehicles)}
        allowed = [slot[v.id] for v in candidate_vehicles(self.problem, r) if v.id in slot]
        # -1 is "not performed": the disjunction below prices that instead of forbidding it.
        penalty = self.drop_unit * (1 + r.priority)
        d = self.manager.NodeToIndex(drop)
        routing.VehicleVar(d).SetValues([-1, *allowed])
        routing.AddDisjunction([d], penalty)
        if pick is None:
            return
        p = self.manager.NodeToIndex(pick)
        routing.VehicleVar(p).SetValues([-1, *allowed])
        routing.AddDisjunction([p], penalty)
        routing.AddPickupAndDelivery(p, d)
        solver.Add(routing.VehicleVar(p) == routing.VehicleVar(d))
        solver.Add(time.CumulVar(p) <= time.CumulVar(d))
        if r.max_ride is not None:
            limit = r.pickup_service + r.max_ride
            solver.Add(time.CumulVar(d) - time.CumulVar(p) <= limit)
            # The same rule as a precedence (pick-up start >= drop-off start - limit): the
            # local search filters see precedences, so moves that would break the ride limit
            # are rejected before the slow constraint propagation (a few % on Cordeau DARP).
            time.AddNodePrecedence(d, p, -limit)


def repair(
    problem: Problem,
    requests: Sequence[Request],
    vehicles: Sequence[Vehicle],
    seed_routes: dict[str, list[Visit]],
    *,
    time_limit_s: float,
    fixed_cost: int,
) -> RepairResult | None:
    """Route `requests` on `vehicles` honouring ride times, starting from `seed_routes`.

    `seed_routes` maps vehicle id to its visits (pick-ups/drop-offs of `requests` only).
    Returns None when OR-Tools finds no solution within the time limit.
    """
    if not vehicles:
        return None
    model = _Model(problem, requests, vehicles)
    time = model.build(fixed_cost)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(max(int(time_limit_s * 1000), 10))
    model.routing.CloseModelWithParameters(params)
    routes = _seed(model, seed_routes)
    # No seed at all: the first-solution heuristic beats local search from nothing.
    initial = model.routing.ReadAssignmentFromRoutes(routes, True) if any(routes) else None
    if initial is not None:
        solution = model.routing.SolveFromAssignmentWithParameters(initial, params)
    else:
        solution = model.routing.SolveWithParameters(params)
    if solution is None:
        return None
    return _read(model, time, solution)


def _seed(model: _Model, seed_routes: dict[str, list[Visit]]) -> list[list[int]]:
    out = []
    for v in model.vehicles:
        nodes = []
        for visit in seed_routes.get(v.id, []):
            pair = model.pairs.get(visit.request_id or "")
            if pair is None:
                continue
            node = pair[0] if visit.kind is StopKind.PICKUP else pair[1]
            if node is not None:
                nodes.append(model.manager.NodeToIndex(node))
        out.append(nodes)
    return out


def _read(
    model: _Model, time: pywrapcp.RoutingDimension, solution: pywrapcp.Assignment
) -> RepairResult:
    routing, manager, d = model.routing, model.manager, model.problem.matrix.durations
    routes, served = [], set()
    for k, vehicle in enumerate(model.vehicles):
        index = routing.Start(k)
        t = solution.Value(time.CumulVar(index))
        node = model.nodes[manager.IndexToNode(index)]
        seats, chairs = node.seats, node.chairs
        stops = [Stop(StopKind.START, vehicle.start, t, t, t, seats, chairs)]
        here = vehicle.start
        while not routing.IsEnd(index):
            index = solution.Value(routing.NextVar(index))
            node = model.nodes[manager.IndexToNode(index)]
            if routing.IsEnd(index):
                break
            arrival = stops[-1].departure + d[here][node.location or 0]
            begin = solution.Value(time.CumulVar(index))
            seats, chairs = seats + node.seats, chairs + node.chairs
            visit = node.visit or Visit(StopKind.BREAK)
            stops.append(
                Stop(
                    visit.kind,
                    node.location or 0,
                    arrival,
                    begin,
                    begin + node.service,
                    seats,
                    chairs,
                    visit.request_id,
                )
            )
            served.add(visit.request_id)
            here = node.location or 0
        if vehicle.end is not None:
            t = stops[-1].departure + d[here][vehicle.end]
            stops.append(Stop(StopKind.END, vehicle.end, t, t, t, seats, chairs))
        routes.append(Route(vehicle.id, tuple(stops)))
    missing = tuple(r.id for r in model.asked if r.id not in served)
    return RepairResult(tuple(routes), missing)
