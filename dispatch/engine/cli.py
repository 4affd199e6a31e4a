"""`python -m dispatch.engine.cli FILE`: solve a VROOM-format JSON problem, print the answer.

Exit codes: 0 solved (the plan passed the checker), 1 unreadable or invalid input,
2 bad command line. Errors go to stderr as one line; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from dispatch.engine.solver import solve
from dispatch.engine.vroom_format import FormatError, plan_to_vroom, problem_from_vroom

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

DEFAULT_TIME_LIMIT_S = 5.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="solve", description=__doc__)
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Shared with the Django management command so both accept the same options."""
    parser.add_argument("file", help="problem in VROOM's JSON input format")
    parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT_S, metavar="S")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--indent", type=int, default=None, help="pretty-print the JSON")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse already printed the usage error
        return int(exit_.code or 0)
    return run(args.file, time_limit_s=args.time_limit, seed=args.seed, indent=args.indent, out=out)


def run(
    path: str, *, time_limit_s: float, seed: int, indent: int | None, out: SupportsWrite[str]
) -> int:
    """Solve the problem in `path` and write VROOM's answer to `out`: anything with a
    `write(str)`, such as a text file or a management command's OutputWrapper."""
    if time_limit_s <= 0:
        print("error: --time-limit must be positive", file=sys.stderr)
        return 2
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        problem, deliveries = problem_from_vroom(data)
    except (OSError, UnicodeDecodeError) as error:
        print(f"error: cannot read {path}: {error}", file=sys.stderr)
        return 1
    except json.JSONDecodeError as error:
        print(f"error: {path} is not valid JSON: {error}", file=sys.stderr)
        return 1
    except FormatError as error:
        print(f"error: {path}: {error}", file=sys.stderr)
        return 1
    plan = solve(problem, time_limit_s=time_limit_s, seed=seed)
    # One write: Django's OutputWrapper would add a newline after every chunk of json.dump.
    out.write(json.dumps(plan_to_vroom(problem, plan, deliveries), indent=indent) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
