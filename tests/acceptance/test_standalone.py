"""The repository stands alone: its unit tests pass in a copy with nothing beside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tracked_files() -> list[str]:
    """What a clone holds: the files git tracks, plus new ones not ignored (a working copy)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to copy as a clone would")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def test_unit_tests_pass_in_a_lone_copy_of_the_repository(tmp_path: Path) -> None:
    copy = tmp_path / "alone" / "cartback"
    for name in _tracked_files():
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTBACK_")}
    env["PYTHONPATH"] = str(copy / "src")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert (copy / "docs" / "architecture.md").is_file()
    assert [p.name for p in (tmp_path / "alone").iterdir()] == ["cartback"]  # nothing beside it
