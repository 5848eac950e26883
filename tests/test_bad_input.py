"""Every input problem that can be known before training is refused before Ray starts or anything
is written: one line on stderr naming the field, file or address and what is allowed, exit 2.

Each case builds its files under ``tmp_path`` and runs ``raycil.run`` or ``raycil.sweep`` as the
command line does (``main(argv)``); the outputs it would have written must not exist afterwards.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import ray
import torch
import yaml
from sweep_helpers import TINY

from raycil import run
from raycil.sweep import cli as sweep

EXPERIMENT = yaml.safe_dump(TINY, sort_keys=False)


def experiment(tmp: Path, text: str | bytes = EXPERIMENT, name: str = "exp.yaml") -> str:
    path = tmp / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def sweep_file(tmp: Path, **sections) -> str:
    doc = {"name": "bad", "experiment": TINY, "storage_path": str(tmp / "runs"), **sections}
    return experiment(tmp, yaml.safe_dump(doc, sort_keys=False), "sweep.yaml")


def closed_port() -> int:
    """A local port where nothing listens (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def a_file(tmp: Path) -> Path:
    path = tmp / "a_file"
    path.write_text("x")
    return path


def a_run(tmp: Path) -> str:
    out = tmp / "previous"
    out.mkdir()
    (out / "result.json").write_text("{}")
    return str(out)


Case = Callable[[Path], list[str]]
RUN: dict[str, tuple[Case, str]] = {
    "missing file": (lambda t: [str(t / "nope.yaml")], r"config file '.*nope.yaml' does not exist"),
    "a folder": (lambda t: [str(t)], r"is not a file; expected a YAML file"),
    "not UTF-8": (lambda t: [experiment(t, b"name: caf\xe9\n")], r"exp.yaml: not UTF-8 text \(byte 9\)"),
    "empty file": (lambda t: [experiment(t, "")], r"exp.yaml: the file is empty"),
    "only comments": (lambda t: [experiment(t, "# train: {epochs: 3}\n")], r"exp.yaml: the file is empty"),
    "bad YAML": (lambda t: [experiment(t, "train: {epochs: 3\n")], r"not valid YAML at line 2, column 1"),
    "tab indent": (lambda t: [experiment(t, "train:\n\tepochs: 3\n")], r"not valid YAML at line 2"),
    "duplicate section": (lambda t: [experiment(t, "train: {epochs: 3}\ntrain: {lr: 0.1}\n")],
                          r"line 2, column 1: key 'train' appears twice in one mapping"),
    "a list at top": (lambda t: [experiment(t, "- train\n")], r"top level must be a mapping"),
    "unknown key": (lambda t: [experiment(t, "train: {epoch: 3}\n")], r"train.epoch: unknown key"),
    "negative seed": (lambda t: [experiment(t), "--set", "seed=-1"], r"^seed: .*greater than or equal to 0"),
    "seed too large": (lambda t: [experiment(t), "--set", f"seed={2**64}"],
                       r"^seed: .*less than 9223372036854775808"),
    "bool as int": (lambda t: [experiment(t), "--set", "train.epochs=true"],
                    r"train.epochs: .*integer.*True"),
    "bool as float": (lambda t: [experiment(t), "--set", "train.lr=true"], r"train.lr: .*number.*True"),
    "float as int": (lambda t: [experiment(t), "--set", "train.batch_size=2.5"],
                     r"train.batch_size: .*integer"),
    "infinite budget": (lambda t: [experiment(t), "--set", "memory.budget=.inf"], r"memory.budget: .*finite"),
    "NaN rate": (lambda t: [experiment(t), "--set", "train.lr=.nan"], r"train.lr: .*finite"),
    "zero threads": (lambda t: [experiment(t), "--threads", "0"], r"^threads: .*greater than or equal to 1"),
    "out under a file": (lambda t: [experiment(t), "--out", str(a_file(t) / "out")],
                         r"--out: '.*a_file/out' cannot be created: '.*a_file' is a file"),
    "out is a file": (lambda t: [experiment(t), "--out", str(a_file(t))], r"--out: '.*a_file' is a file"),
    "out holds a run": (lambda t: [experiment(t), "--out", a_run(t)],
                        r"--out: '.*previous' already holds a run \(result.json\); pass --overwrite"),
    "set without =": (lambda t: [experiment(t), "--set", "train.epochs"], r"expected key=value"),
    "set bad YAML": (lambda t: [experiment(t), "--set", "train.lr=[0.1"],
                     r"--set value '\[0.1' is not valid YAML"),
    "unknown profile": (lambda t: [experiment(t), "--profile", "smok"], r"--profile: unknown profile 'smok'"),
    "unknown method": (lambda t: [experiment(t), "--set", "method.name=icarll"],
                       r"method.name: 'icarll' is not allowed"),
    "missing data root": (lambda t: [experiment(t), "--set", "dataset.name=imagefolder", "--set",
                                     f"dataset.root={t / 'photos'}"],
                          r"dataset.root: directory '.*photos' does not exist"),
    "class order repeats": (lambda t: [experiment(t), "--set", "dataset.class_order=[0,0,1,2]"],
                            r"dataset.class_order"),
    "extends a missing file": (lambda t: [experiment(t, "extends: base.yaml\n")],
                               r"base.yaml' does not exist"),
    "extends itself": (lambda t: [experiment(t, "extends: exp.yaml\n")], r"exp.yaml: extends itself"),
    "too many phases": (lambda t: [experiment(t), "--set", "protocol.num_phases=5"], r"protocol.num_phases"),
}
SWEEP: dict[str, tuple[Case, str]] = {
    "empty sweep": (lambda t: [experiment(t, "", "sweep.yaml")], r"sweep.yaml: the file is empty"),
    "sweep not UTF-8": (lambda t: [experiment(t, b"name: \xff\n", "sweep.yaml")], r"sweep.yaml: not UTF-8"),
    "duplicate seeds key": (lambda t: [experiment(t, "seeds: [0]\nseeds: [1]\n", "sweep.yaml")],
                            r"key 'seeds' appears twice"),
    "negative sweep seed": (lambda t: [sweep_file(t, seeds=[-1])], r"^seeds.0: .*greater than or equal to 0"),
    "bool sweep seed": (lambda t: [sweep_file(t, seeds=[True])], r"^seeds.0: .*integer"),
    "optuna seed too large": (lambda t: [sweep_file(t, search={"seed": 2**32})],
                              r"search.seed: .*less than 4294967296"),
    "storage under a file": (lambda t: [sweep_file(t, storage_path=str(a_file(t) / "runs"))],
                             r"storage_path: '.*a_file/runs/bad' cannot be created: '.*a_file' is a file"),
    "threads beyond the learner's CPUs": (lambda t: [sweep_file(t), "--set", "threads=2"],
                                          r"experiment.threads: 2 torch threads, but each LearnerActor "
                                          r"holds 0.85 CPUs"),
    "more CPUs than the machine": (lambda t: [sweep_file(t, resources={"cpu": 4096})],
                                   r"resources.cpu: each trial needs 4096 CPU, but this machine has"),
    "nothing at the address": (lambda t: [sweep_file(t), "--address", f"127.0.0.1:{closed_port()}"],
                               r"--address: nothing answers at 127.0.0.1:\d+"),
    "address not host:port": (lambda t: [sweep_file(t), "--address", "headnode"],
                              r"--address: 'headnode' is not 'auto' or host:port"),
    "resume of nothing": (lambda t: [sweep_file(t), "--resume"], r"--resume: .* holds no sweep to resume"),
    "unknown variant key": (lambda t: [sweep_file(t, variants={"a": {"train.epoch": 2}})], r"train.epoch"),
}


def refused(capsys, prog: str, message: str) -> None:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert err.startswith(f"{prog}: error: "), err
    assert re.search(message, err.removeprefix(f"{prog}: error: ")), err


def written(tmp: Path, before: set[Path]) -> set[Path]:
    return set(tmp.rglob("*")) - before


@pytest.mark.parametrize("prog, case", [("run", c) for c in RUN] + [("sweep", c) for c in SWEEP])
def test_bad_input_is_refused_in_one_line_before_anything_starts(tmp_path, capsys, monkeypatch, prog, case):
    monkeypatch.chdir(tmp_path)  # raycil.run's default --out (runs/<name>) would land here
    cli, (build, message) = (run, RUN[case]) if prog == "run" else (sweep, SWEEP[case])
    argv = build(tmp_path)
    before = set(tmp_path.rglob("*"))
    assert cli.main(argv) == 2
    refused(capsys, f"raycil.{prog}", message)
    assert not written(tmp_path, before)
    assert not ray.is_initialized()


def test_run_refuses_cuda_without_a_device(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert run.main([experiment(tmp_path), "--set", "device=cuda", "--out", str(tmp_path / "o")]) == 2
    refused(capsys, "raycil.run", r"device: 'cuda', but torch finds no CUDA device")
    assert not (tmp_path / "o").exists()


def test_run_overwrite_replaces_a_previous_run(tmp_path, capsys):
    out = a_run(tmp_path)
    argv = [experiment(tmp_path), "--out", out, "--overwrite", "--set", "protocol.num_phases=1"]
    assert run.main(argv) == 0
    assert yaml.safe_load((Path(out) / "result.json").read_text())["config"]["threads"] == 1
