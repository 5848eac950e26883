"""Failures on a local Ray (2 CPUs): a LearnerActor killed mid-trial is retried from the last
finished phase and ends with the metrics of an uninterrupted ``raycil.run``; a killed sweep
driver followed by ``--resume`` runs no finished trial again, even when the kill tore Tune's
experiment state, and no finished phase again even when Tune's snapshot predates it; SIGINT and
SIGTERM end a sweep with 130 / 143 and the command that resumes it."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray
from ray.util.state import list_actors
from sweep_helpers import reference_phases, result_lines, same_metrics, write_sweep

from raycil.run import main as run_main
from raycil.sweep.checkpoints import MANIFEST
from raycil.sweep.plan import TrialSpec, plan_sweep
from raycil.sweep.tuner import run_sweep

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


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


def cluster_snapshot() -> str:
    """The shared Ray's free resources and its actors that are not dead, a line each."""
    actors = list_actors(filters=[("state", "!=", "DEAD")], limit=100)
    rows = [f"  {a.class_name} {a.name or '-'} {a.state} job={a.job_id} pid={a.pid}" for a in actors]
    return "\n".join([f"available: {ray.available_resources()}", *rows])


def driver_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def start_driver(cmd: list[str]) -> subprocess.Popen:
    """A sweep's driver in a session of its own (the test kills it), its output discarded."""
    return subprocess.Popen(cmd, cwd=ROOT, env=driver_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def finish(cmd: list[str], env: dict[str, str], timeout: float = 300.0) -> subprocess.CompletedProcess:
    """Run a sweep command to its end; one that outlives ``timeout`` fails the test with what the
    cluster held then and the last lines the command printed (where it hung)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        snapshot = cluster_snapshot()
        proc.kill()
        stdout, stderr = proc.communicate()
        pytest.fail(f"{shlex.join(cmd)} ran past {timeout:g} s; the cluster then:\n{snapshot}\n"
                    f"it printed last:\n{stdout[-4000:]}\n{stderr[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


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
    env = driver_env()
    driver = start_driver(cmd)

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
    resumed = finish([*cmd, "--resume"], env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = trial_dirs(exp)
    assert (after[finished[0]] / "result.json").read_bytes() == before[finished[0]]
    for d in after.values():  # the interrupted trial went on from its phase 1: no phase twice
        assert [line["phase"] for line in result_lines(d)] == [1, 2]
    assert "2 planned trials: 2 complete" in resumed.stdout
    assert f"{state.name} was torn by the interruption; restored from" in resumed.stdout


THREE_PHASES = ("train.epochs_first=15", "train.epochs=15", "protocol.num_phases=3", "dataset.num_classes=6")


def sweep_command(path: Path, address: str, *sets: str) -> list[str]:
    return [sys.executable, "-m", "raycil.sweep", str(path), "--address", address,
            *(arg for s in sets for arg in ("--set", s))]


def checkpoints(exp: Path) -> int:
    """Phase checkpoints written so far (all trials)."""
    return len(list(exp.glob(f"*/checkpoint_*/{MANIFEST}")))


def finished_phases(stdout: str) -> list[int]:
    """The phases a sweep's console reports as finished (``: phase k/K  top1 ...``)."""
    return [int(m) for m in re.findall(r": phase (\d+)/\d+  top1 ", stdout)]


def phases_in_lines(stdout: str) -> set[int]:
    """Every phase a console line names, finished or under way (``: phase k/K training, ...``)."""
    return {int(m) for m in re.findall(r": phase (\d+)/\d+ ", stdout)}


def test_resume_trains_no_finished_phase_again_when_tunes_snapshot_is_older(tmp_path, ray_address):
    path = write_sweep(tmp_path, "old_snapshot", variants={"a": {}}, seeds=[1])
    cmd = sweep_command(path, ray_address, *THREE_PHASES)
    exp = plan_sweep(path).exp_dir
    env = driver_env()
    driver = start_driver(cmd)
    try:
        wait_for(lambda: checkpoints(exp) >= 1 or driver.poll() is not None)
        # Tune's snapshot as it was at phase 1, put back after the kill: as if Tune had not
        # written one since (it does so every few seconds, not after every checkpoint)
        snapshot = {p: p.read_bytes() for p in exp.glob("experiment_state-*.json")}
        wait_for(lambda: checkpoints(exp) >= 2 or driver.poll() is not None)
        assert driver.poll() is None, "the sweep ended before it could be interrupted"
    finally:
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    assert snapshot and checkpoints(exp) == 2
    for state in exp.glob("experiment_state-*.json"):
        state.unlink()
    for state, text in snapshot.items():
        state.write_bytes(text)
    resumed = finish([*cmd, "--resume"], env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert finished_phases(resumed.stdout) == [3]
    assert phases_in_lines(resumed.stdout) == {3}  # phases 1 and 2 were not trained again
    (trial,) = exp.glob("a_s1_*")
    rows = json.loads((trial / "phases.json").read_text())
    assert [r["phase"] for r in rows] == [1, 2, 3]  # the report keeps the phases before the kill

    # the trial's experiment.yaml through raycil.run gives its metrics to the last digit
    out = tmp_path / "rerun"
    assert run_main([str(trial / "experiment.yaml"), "--out", str(out)]) == 0
    rerun = json.loads((out / "result.json").read_text())
    assert rerun["config"]["threads"] == 1
    for ref, row in zip(rerun["phases"], rows, strict=True):
        assert not same_metrics(ref, row)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_sweep_exits_with_the_signal_and_says_how_to_resume(tmp_path, ray_address, sig, code):
    path = write_sweep(tmp_path, f"stop_{code}", variants={"a": {}, "b": {}}, seeds=[0])
    cmd = sweep_command(path, ray_address, *THREE_PHASES)
    exp = plan_sweep(path).exp_dir
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        wait_for(lambda: checkpoints(exp) >= 1 or driver.poll() is not None)
        assert driver.poll() is None, "the sweep ended before it could be interrupted"
        os.kill(driver.pid, sig)
        stdout, stderr = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.kill(driver.pid, signal.SIGKILL)
    assert driver.returncode == code, stderr[-2000:]
    last = stdout.strip().splitlines()[-1]
    name = signal.Signals(sig).name
    match = re.fullmatch(rf"raycil.sweep: interrupted by {name}: 0 of 2 planned trials finished; "
                         r"resume with: python (-m raycil.sweep .* --resume)", last)
    assert match, last
    if sig != signal.SIGINT:
        return
    assert "Tuner.restore" not in stdout + stderr  # Tune's own hint is not the one to follow
    resumed = finish([sys.executable, *shlex.split(match.group(1))], env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "2 planned trials: 2 complete" in resumed.stdout
    for trial in exp.glob("*_s0_*"):
        assert [r["phase"] for r in json.loads((trial / "phases.json").read_text())] == [1, 2, 3]
