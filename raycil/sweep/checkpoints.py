"""A trial's phase checkpoints, written and chosen by its Tune driver without loading torch: the
driver stores the bytes its two actors hand it (``learner.pt``: the learner's state as
``torch.save`` wrote it inside the LearnerActor; ``memory.pkl``: the memory's state pickled inside
the MemoryActor) beside ``state.json``, the phase history and each file's size and SHA-256,
written last. A checkpoint is whole when every file it lists has that size and hash: a driver
killed while Tune copied it leaves one that is not, and the next newest is taken."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow.fs
from ray import tune

MANIFEST = "state.json"  # the history and every state file's size and hash
STATE_FILES = ("learner.pt", "memory.pkl")


def save_checkpoint(directory: Path, learner_state: bytes, memory_state: bytes,
                    history: list[dict[str, Any]]) -> None:
    """Write a phase's checkpoint into ``directory`` (the manifest last)."""
    files = {}
    for name, data in zip(STATE_FILES, (learner_state, memory_state), strict=True):
        (directory / name).write_bytes(data)
        files[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (directory / MANIFEST).write_text(json.dumps({"history": history, "files": files}, allow_nan=True))


def _read(checkpoint: tune.Checkpoint, name: str) -> bytes:
    with checkpoint.filesystem.open_input_stream(f"{checkpoint.path}/{name}") as f:
        return f.read()


def manifest(checkpoint: tune.Checkpoint) -> dict[str, Any] | None:
    """A checkpoint's manifest, or None when it is missing or torn."""
    try:
        return json.loads(_read(checkpoint, MANIFEST))
    except (OSError, ValueError):
        return None


def saved_phases(checkpoint: tune.Checkpoint) -> int:
    """How many phases a checkpoint holds (-1 when its manifest is unreadable)."""
    found = manifest(checkpoint)
    return -1 if found is None else len(found["history"])


def load_checkpoint(checkpoint: tune.Checkpoint) -> dict[str, Any] | None:
    """``{"learner": bytes, "memory": bytes, "history": [...]}`` of a whole checkpoint, else None."""
    found = manifest(checkpoint)
    if found is None:
        return None
    state: dict[str, Any] = {"history": found["history"]}
    for name, expected in found["files"].items():
        try:
            data = _read(checkpoint, name)
        except OSError:
            return None
        if len(data) != expected["bytes"] or hashlib.sha256(data).hexdigest() != expected["sha256"]:
            return None
        state[name.split(".")[0]] = data
    return state


def trial_checkpoints(fs: pyarrow.fs.FileSystem, trial_path: str) -> list[tune.Checkpoint]:
    """Every ``checkpoint_*`` folder in the trial's folder on the sweep's storage."""
    found = fs.get_file_info(pyarrow.fs.FileSelector(trial_path, allow_not_found=True))
    return [tune.Checkpoint(info.path, filesystem=fs) for info in found
            if info.type == pyarrow.fs.FileType.Directory and info.base_name.startswith("checkpoint_")]


def newest_state(checkpoint: tune.Checkpoint | None, on_disk: list[tune.Checkpoint]) -> dict[str, Any] | None:
    """The state to resume from: of Tune's checkpoint and those in the trial's folder, the whole
    one holding the most phases (a kill can tear the newest; the next one is taken).

    Tune records which checkpoint is a trial's latest in its experiment snapshot, written every
    few seconds; a driver killed between a phase's checkpoint and the next snapshot would
    otherwise make the resumed trial train that phase again."""
    candidates = sorted(([checkpoint] if checkpoint else []) + on_disk, key=saved_phases, reverse=True)
    for candidate in candidates:
        state = load_checkpoint(candidate)
        if state is not None:
            return state
    return None


def resume_point(storage: Any) -> dict[str, Any] | None:
    """The newest state of this trial (:func:`newest_state`); the next checkpoint is numbered
    after every folder on disk, so a snapshot older than the folders cannot overwrite one."""
    on_disk = trial_checkpoints(storage.storage_filesystem, storage.trial_fs_path)
    suffixes = [c.path.rsplit("_", 1)[1] for c in on_disk]
    indices = [int(x) for x in suffixes if x.isdigit()]
    if indices:
        storage.current_checkpoint_index = max(storage.current_checkpoint_index, max(indices))
    return newest_state(tune.get_checkpoint(), on_disk)
