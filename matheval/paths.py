"""Where tasks/, prompts/ and profiles/ live: the repo's top-level folders in a checkout or an
editable install, and copies inside the package (matheval/_tasks ...) in a normal wheel install."""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _resource(name: str) -> Path:
    packaged = _PKG / f"_{name}"
    if packaged.is_dir():
        return packaged
    return _PKG.parent / name


def tasks_dir() -> Path:
    return Path(os.environ.get("MATHEVAL_TASKS_DIR", _resource("tasks")))


def prompts_dir() -> Path:
    return _resource("prompts")


def profiles_dir() -> Path:
    return _resource("profiles")


def default_data_dir() -> Path:
    env = os.environ.get("MATHEVAL_DATA_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "matheval" / "data"


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "matheval"
