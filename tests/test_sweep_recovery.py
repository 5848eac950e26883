"""Failures on a local Ray (2 CPUs): a LearnerActor killed mid-trial is retried from the last
finished phase and ends with the metrics of an uninterrupted ``raycil.run``; a killed sweep
driver followed by ``--resume`` runs no finished trial again, even when the kill tore Tune's
experiment state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray
from sweep_helpers import reference_phases, result_lines, same_metrics, write_sweep

from raycil.sweep import run_sweep
from raycil.sweep_config import TrialSpec, plan_sweep

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_address():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def trial_dirs(exp_dir: Path) -> dict[str, Path]:
    """Tune trial id -> directory, for the trials that have reported a phase (a result file
    created but not yet written, as a test polling a running sweep may find one, is left out)."""
    lines = {p.parent: result_lines(p.parent) for p in exp_dir.glob("*/result.json")}
    return {found[0]["trial_id"]: d for d, found in lines.items() if found}


def wait_for(predicate, timeout: float = 180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("condition not reached")


def test_killed_learner_actor_resumes_from_last_phase_with_same_metrics(tmp_path, ray_address):
    slow = {"train.epochs_first": 20, "train.epochs": 80, "protocol.num_phases": 3, "dataset.num_classes": 6}
    path = write_sweep(tmp_path, "kill_learner", variants={"ft": {}}, seeds=[3], max_failures=2)
    plan = plan_sweep(path, overrides=slow)
    exp = plan.exp_dir
    killed: list[str] = []

    def kill_after_first_phase() -> None:
        dirs = wait_for(lambda: trial_dirs(exp))
        trial_id = next(iter(dirs))
        name = f"LearnerActor[ft/{trial_id}]"
        ray.kill(ray.get_actor(name))
        killed.append(name)

    killer = threading.Thread(target=kill_after_first_phase)
    killer.start()
    results = run_sweep(plan)
    killer.join()
    assert killed, "the LearnerActor was not killed"
    assert results[0].error is None
    lines = result_lines(next(iter(trial_dirs(exp).values())))
    # phase 1 was reported once: the retried trial resumed from its checkpoint at phase 1
    # every phase reported once, and one restore (from a checkpoint) after the kill
    assert [line["phase"] for line in lines] == [1, 2, 3]
    assert sum(line["iterations_since_restore"] == 1 for line in lines[1:]) == 1
    expected = reference_phases(plan.experiment_config(TrialSpec("ft", 3)))
    for ref, line in zip(expected, lines, strict=True):
        assert not same_metrics(ref, line)


def test_killed_driver_then_resume_runs_no_finished_trial_again(tmp_path, ray_address):
    slow = {"train.epochs": 200}  # a long phase 2: a wide window to kill the driver in
    path = write_sweep(tmp_path, "resume", variants={"fast": {}, "slow": slow}, seeds=[0], max_concurrent=1)
    cmd = [sys.executable, "-m", "raycil.sweep", str(path), "--address", ray_address,
           "--set", "train.epochs_first=20", "--set", "train.epochs=20", "--set", "protocol.num_phases=2"]
    exp = plan_sweep(path).exp_dir
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)

    def fast_done_slow_started() -> bool:
        assert driver.poll() is None, "the sweep ended before it could be interrupted"
        lines = sorted(len(result_lines(d)) for d in trial_dirs(exp).values())
        return lines == [1, 2]

    try:
        wait_for(fast_done_slow_started)
    finally:
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    before = {t: (d / "result.json").read_bytes() for t, d in trial_dirs(exp).items()}
    finished = [t for t, d in trial_dirs(exp).items() if len(result_lines(d)) == 2]
    assert len(finished) == 1
    # the kill may land while Tune copies its state into the sweep: tear it as such a kill would
    state = max(exp.glob("experiment_state-*.json"))
    state.write_bytes(state.read_bytes()[:100])
    resumed = subprocess.run([*cmd, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = trial_dirs(exp)
    assert (after[finished[0]] / "result.json").read_bytes() == before[finished[0]]
    for d in after.values():  # the interrupted trial went on from its phase 1: no phase twice
        assert [line["phase"] for line in result_lines(d)] == [1, 2]
    assert "2 trials: 2 complete" in resumed.stdout
    assert f"{state.name} was torn by the interruption; restored from" in resumed.stdout
