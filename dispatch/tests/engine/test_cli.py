from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dispatch.engine.cli import main
from dispatch.tests.engine.test_vroom_format import DATA


def test_solves_a_file_and_prints_vroom_output(tmp_path: Path) -> None:
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(DATA))
    out = io.StringIO()
    assert main([str(path), "--time-limit", "1"], out=out) == 0
    answer = json.loads(out.getvalue())
    assert answer["code"] == 0 and answer["summary"]["routes"] == 1


@pytest.mark.parametrize(
    "content", ["{not json", "[]", json.dumps({"vehicles": [], "shipments": []}), "\xff"]
)
def test_bad_file_gives_message_and_nonzero_exit(
    tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content.encode("latin-1"))
    assert main([str(path)], out=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_missing_file_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.json")], out=io.StringIO()) == 1
    assert main([], out=io.StringIO()) == 2
    assert main([str(tmp_path / "x.json"), "--time-limit", "0"], out=io.StringIO()) == 2
    assert "Traceback" not in capsys.readouterr().err
