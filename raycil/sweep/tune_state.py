"""Make a sweep's Tune state readable again before ``--resume``.

Tune writes its experiment state (trial list and statuses) and its searcher state to a staging
directory on the driver (``<ray temp>/session_*/artifacts/<start time>/<name>/driver_artifacts``)
and then copies them into the sweep directory. A driver killed during that copy leaves a torn file
there; Tune then fails to read it and silently starts the sweep over with an empty config. The
staging copy, written before the copy began, is intact: it replaces the torn file. A torn file with
no intact copy is set aside (``*.torn``), so Tune resumes from the newest readable state of an
earlier session.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import ray.cloudpickle as cloudpickle

from raycil.schema import ConfigError

EXPERIMENT_STATE = "experiment_state-*.json"
# BasicVariantGenerator (grid / random) and SearchGenerator (Optuna) checkpoints: cloudpickle
SEARCHER_STATES = ("basic-variant-state-*.json", "search_gen_state-*.json")


def readable(path: Path) -> bool:
    """Whether Tune can load this state file (JSON experiment state or pickled searcher state)."""
    try:
        with path.open("rb") as f:
            if path.match(EXPERIMENT_STATE):
                json.load(f)
            else:
                cloudpickle.load(f)
    except Exception:  # noqa: BLE001 - any failure to load is a torn file
        return False
    return True


def ray_temp_roots() -> list[Path]:
    """Where Ray keeps its sessions on this machine (``RAY_TMPDIR``, ``TMPDIR``, ``/tmp``)."""
    roots = [os.environ.get("RAY_TMPDIR"), os.environ.get("TMPDIR"), "/tmp"]
    return list(dict.fromkeys(Path(r) / "ray" for r in roots if r))


def staged_copies(exp_dir: Path, file_name: str) -> Iterator[Path]:
    """Readable driver-staging copies of one of this sweep's state files, newest first.

    The file name carries the driver's start time to the second; when both the copy and the sweep
    directory name trials, they must share one, so another sweep of the same name is not taken.
    """
    trial_dirs = [p.name for p in exp_dir.iterdir() if p.is_dir()]
    pattern = f"session_*/artifacts/*/{exp_dir.name}/driver_artifacts/{file_name}"
    found = [p for root in ray_temp_roots() for p in root.glob(pattern)]
    for copy in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True):
        if not readable(copy):
            continue
        recorded = recorded_trials(copy)
        if not recorded or not trial_dirs or any(t in d for t in recorded for d in trial_dirs):
            yield copy


def recorded_trials(state_file: Path) -> set[str]:
    """Trial ids an experiment state records (none for a searcher state)."""
    if not state_file.match(EXPERIMENT_STATE):
        return set()
    state = json.loads(state_file.read_text())
    return {json.loads(trial)["trial_id"] for trial, _ in state["trial_data"]}


def repair(exp_dir: Path) -> list[str]:
    """Replace or set aside the torn Tune state files of ``exp_dir``; what was done, a line each.

    Raises ConfigError when a kind of state (experiment, searcher) was written but none of it is
    readable any more: Tune could not resume the sweep, only start it over or lose its unlaunched
    trials.
    """
    done = []
    for pattern in (EXPERIMENT_STATE, *SEARCHER_STATES):
        written = sorted(exp_dir.glob(pattern))
        for state_file in written:
            if readable(state_file):
                continue
            copy = next(staged_copies(exp_dir, state_file.name), None)
            if copy is not None:
                tmp = state_file.with_name(f".{state_file.name}.tmp")
                shutil.copyfile(copy, tmp)
                os.replace(tmp, state_file)
                done.append(f"{state_file.name} was torn by the interruption; restored from {copy}")
            else:
                state_file.rename(state_file.with_name(state_file.name + ".torn"))
                done.append(f"{state_file.name} was torn by the interruption and has no intact copy; "
                            "set aside as .torn, resuming from the newest earlier state")
        if (written or pattern == EXPERIMENT_STATE) and not any(map(readable, exp_dir.glob(pattern))):
            raise ConfigError(f"--resume: {exp_dir} holds no readable Tune state of the form {pattern} "
                              "(the sweep was interrupted before Tune first recorded it intact); remove "
                              "the directory and start again")
    return done
