from __future__ import annotations

import pytest

from dispatch.engine.geo import TravelMatrix
from dispatch.engine.problem import Break, Problem, Request, Vehicle
from dispatch.tests.engine.helpers import line_matrix


def _vehicle(**kw: object) -> Vehicle:
    base: dict[str, object] = dict(id="v", start=0, shift_start=0, shift_end=1000, seats=4)
    return Vehicle(**(base | kw))  # type: ignore[arg-type]


def test_valid_problem_builds() -> None:
    p = Problem((Request("a", 1, 2, 0, 100),), (_vehicle(onboard=("a",)),), line_matrix(3))
    assert p.request("a").pickup == 1
    assert p.onboard_vehicle()["a"].id == "v"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Request("a", 1, 2, 100, 50), "not ordered"),
        (lambda: Request("a", 1, 2, 0, 50, dropoff_earliest=9, dropoff_latest=3), "not ordered"),
        (lambda: Request("a", 1, 2, 0, 50, seats=-1), "seats must be >= 0"),
        (lambda: Request("a", 1, 2, 0, 50, priority=101), "priority"),
        (lambda: Request("", 1, 2, 0, 50), "empty"),
        (lambda: _vehicle(shift_start=10, shift_end=5), "not ordered"),
        (lambda: _vehicle(wheelchairs=-1), "wheelchairs must be >= 0"),
        (lambda: Break(10, 5, 1), "not ordered"),
    ],
)
def test_bad_parts_raise(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("requests", "vehicles", "message"),
    [
        ((Request("a", 1, 5, 0, 9),), (_vehicle(),), "location index 5"),
        ((Request("a", 1, 2, 0, 9),), (_vehicle(end=7),), "location index 7"),
        ((Request("a", 1, 2, 0, 9), Request("a", 1, 2, 0, 9)), (_vehicle(),), "duplicate"),
        ((), (_vehicle(), _vehicle()), "duplicate vehicle"),
        ((), (_vehicle(onboard=("zz",)),), "unknown"),
        (
            (Request("a", 1, 2, 0, 9),),
            (_vehicle(onboard=("a",)), _vehicle(id="w", onboard=("a",))),
            "two vehicles",
        ),
        (
            (Request("a", 1, 2, 0, 9, seats=0, wheelchairs=1),),
            (_vehicle(onboard=("a",)),),
            "exceed",
        ),
    ],
)
def test_bad_problem_raises(requests: tuple, vehicles: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Problem(requests, vehicles, line_matrix(3))


def test_matrix_must_be_square() -> None:
    with pytest.raises(ValueError, match="square"):
        Problem((), (), TravelMatrix([[0, 1], [1]], [[0, 1], [1, 0]]))
