"""`manage.py solve`: the engine's CLI writing through the command's OutputWrapper."""

from __future__ import annotations

import io
import json
from pathlib import Path

from django.core.management import call_command

from dispatch.tests.engine.test_vroom_format import DATA


def test_the_command_prints_one_vroom_answer(tmp_path: Path) -> None:
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(DATA))
    out = io.StringIO()
    call_command("solve", str(path), "--time-limit", "1", stdout=out)
    text = out.getvalue()
    assert text.endswith("}\n") and not text.endswith("\n\n")  # one write, one newline
    answer = json.loads(text)
    assert answer["code"] == 0 and answer["summary"]["routes"] == 1
