"""The day after it started: re-planning from now, and fitting one more trip in.

A live day is a `Problem` seen from a moment. Each vehicle starts where it is and when it is
ready (`Vehicle.start`, `Vehicle.shift_start`, set by the caller: now plus a lead time), with
the patients it carries (`Vehicle.onboard`). Its `LiveVehicle.prefix` lists the stops it
must make first, in their order: the pick-ups it is driving to and the drop-offs of every
patient it carries or fetches; those requests stay with it. `LiveVehicle.planned` lists the
rest of its current work in order (free to move). Stops in the past are not in the problem.

`settle` turns that into a `LiveDay` whose rules the current routes keep: a window the
current route already misses is widened to the time it will be served (its promised end is
kept in `LiveDay.promised`, lateness is measured against it), a trip nobody can reach in time
any more gets `late_grace_s` past the earliest ready vehicle, and a prefix may run past the
shift. A break whose window has passed is dropped; one that overlaps the prefix starts after it.

`replan` solves the free part from where each prefix ends (a problem of its own whose
vehicles start there), with every trip pinned to the driver it has now (the strongest
preference: pinned, a trip only leaves its driver when it cannot stay). Then trips left out
get the cheapest place anywhere (moved because they must), and each kept trip moves to
another driver only when that saves at least `Thresholds` (lateness or driving). Prefixes
and solved tails are joined into routes of the live day, which `check_plan` judges.

`insertions` proposes where one more trip fits into the current routes (after the
prefixes), ride limits, breaks and every window included; each proposal's whole route
passes the checker.
"""

from __future__ import annotations

from dispatch.engine.live.day import LATE_GRACE_S, PIN, LiveDay, LiveVehicle, settle
from dispatch.engine.live.insertion import Insertion, best_insertion, insertions
from dispatch.engine.live.replan import Move, Replan, Thresholds, replan
from dispatch.engine.live.routes import fit_route, stitch

__all__ = [
    "LATE_GRACE_S",
    "PIN",
    "Insertion",
    "LiveDay",
    "LiveVehicle",
    "Move",
    "Replan",
    "Thresholds",
    "best_insertion",
    "fit_route",
    "insertions",
    "replan",
    "settle",
    "stitch",
]
