"""Data shipped in the package beside its code (demo data, texts): read by name."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from typing import Any


def read_data(package: str, name: str) -> Any:
    """The content of the file `name` of `package` (`loumo.x`): TOML for a `.toml` name, else
    JSON."""
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text) if name.endswith(".toml") else json.loads(text)
