"""Checks on where a run or a sweep will write, made before anything trains or is written."""

from __future__ import annotations

import tempfile
from pathlib import Path

from raycil.schema import ConfigError


def check_writable_dir(path: Path, field: str) -> None:
    """Refuse ``path`` unless it is, or can be made, a folder this process can write in.

    The nearest existing folder on the way is probed by creating and removing a temporary file
    in it (so a read-only mount is found even by root); nothing is left behind."""
    path = Path(path).expanduser()
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        what = "is" if existing == path else f"cannot be created: '{existing}' is"
        raise ConfigError(f"{field}: '{path}' {what} a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ConfigError(f"{field}: cannot write in '{existing}' ({exc.strerror or exc})") from None
