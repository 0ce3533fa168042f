"""A second ``twin compare`` or ``twin run`` into a used folder writes the next free one."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()


def test_a_second_compare_does_not_overwrite_the_first(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = ["twin", "compare", "cats-arvr", "-d", "1", "-p", "nearest", "-o", str(out)]
    for _ in range(2):
        assert runner.invoke(app, args, env={"COLUMNS": "120"}).exit_code == 0
    assert (out / "comparison.json").is_file()
    assert (tmp_path / "cmp-2" / "comparison.json").is_file()
    again = runner.invoke(app, [*args, "--overwrite"], env={"COLUMNS": "120"})
    assert again.exit_code == 0
    assert not (tmp_path / "cmp-3").exists()
