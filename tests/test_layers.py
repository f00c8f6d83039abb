"""The layers contract of DESIGN.md (`[tool.importlinter]` in pyproject.toml) holds and bites."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "loumo"


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = config["tool"]["importlinter"]["contracts"]
    return list(contract["layers"])


def _lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
            "--config",
            str(ROOT / "pyproject.toml"),
            "--no-cache",
        ],
        cwd=source_root,
        env={"PYTHONPATH": str(source_root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_package_sits_in_a_layer() -> None:
    parts = (part for layer in _layers() for part in layer.replace(":", "|").split("|"))
    named = {part.strip(" ()") for part in parts}
    packages = {
        f"loumo.{p.stem if p.is_file() else p.name}"
        for p in SRC.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.stem not in {"__init__", "__main__"})
    }
    assert packages <= named, f"not in any layer of the contract: {sorted(packages - named)}"


def test_the_contract_holds_and_an_upward_import_breaks_it(tmp_path: Path) -> None:
    assert _lint_imports(ROOT / "src").returncode == 0
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy / "loumo", ignore=shutil.ignore_patterns("__pycache__"))
    ids = copy / "loumo" / "core" / "ids.py"
    ids.write_text(ids.read_text() + "\nfrom loumo.shops import stock as _upward  # noqa\n")
    broken = _lint_imports(copy)
    assert broken.returncode != 0
    assert "loumo.core is not allowed to import loumo.shops" in broken.stdout
