"""``suanwang`` itself: the help screen starts fast because the commands import lazily."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from suanwang.cli.main import app

# Each of these takes a tenth of a second or more to import; a command that needs one imports
# it inside its body, so that `suanwang --help` (and every other command) does not pay for it.
HEAVY = (
    "numpy",
    "scipy",
    "networkx",
    "suanwang.scheduling",
    "suanwang.scenario",
    "suanwang.twin",
    "suanwang.measure",
    "httpx",
    "pydantic",
)


def test_loading_the_command_line_imports_nothing_heavy() -> None:
    probe = (
        "import json, sys; import suanwang.cli.main; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == []


def test_help_lists_every_command_group() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    for name in ("scenario", "twin", "task", "node", "token", "serve", "plan", "measure"):
        assert name in result.stdout
