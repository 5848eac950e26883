"""``python -m raycil.run CONFIG.yaml [--set k=v ...] [--profile NAME] [--out DIR]``: one experiment.

Prints a per-phase table as it goes (with a progress bar inside long phases) and writes
``DIR/result.json`` (config, per-phase metrics, summary) and ``DIR/phases.csv``. The config, the
data, the device and ``DIR`` are checked before anything trains; a ``DIR`` that holds a run is
replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from raycil.config.composed import ExperimentConfig, load_config
from raycil.data.registry import load_dataset
from raycil.learner.inference import check_precision
from raycil.learner.phases import run_phases
from raycil.outputs import check_writable_dir
from raycil.plugins.assembly import make_learner, make_memory
from raycil.schema import ConfigError
from raycil.seeding import resolve_device

COLUMNS = [("phase", 0), ("classes", 0), ("top1", 2), ("top5", 2), ("old_acc", 2), ("new_acc", 2),
           ("imbalance", 2), ("val_top1", 2), ("memory_units", 1), ("exemplars_per_class", 1),
           ("train_seconds", 1)]


def format_row(metrics: dict[str, Any]) -> str:
    """One line of the per-phase table; NaN (e.g. old-class accuracy in phase 1) shows as '-'."""
    cells = []
    for key, decimals in COLUMNS:
        value = float(metrics.get(key, math.nan))
        text = "-" if math.isnan(value) else f"{value:.{decimals}f}"
        cells.append(f"{text:>{len(key)}}")
    return " ".join(cells)


def header() -> str:
    return " ".join(key for key, _ in COLUMNS)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class TerminalProgress:
    """A one-line progress bar on stderr inside long phases."""

    def __init__(self, stream: Any = sys.stderr):
        self.stream, self.last = stream, -1

    def __call__(self, desc: str, step: int, total: int, loss: torch.Tensor, epochs: int = 1) -> None:
        pct = int(100 * step / max(1, total))
        if pct == self.last and step != total:
            return
        self.last = pct
        bar = "#" * (pct // 4) + "." * (25 - pct // 4)
        end = "\r" if step < total else "\r" + " " * 70 + "\r"
        self.stream.write(f"  {desc} [{bar}] {pct:3d}% loss {float(loss):.3f}{end}")
        self.stream.flush()


def run_experiment(cfg: ExperimentConfig, out: Path | None, verbose: bool = True) -> dict[str, Any]:
    """Run all phases in-process with ``cfg.threads`` torch threads; write ``phases.csv`` after
    each phase and ``result.json`` at the end."""
    torch.set_num_threads(cfg.threads)
    progress = TerminalProgress() if verbose and cfg.train.progress and sys.stderr.isatty() else None
    learner, memory = make_learner(cfg, progress), make_memory(cfg)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    if verbose:
        print(header(), flush=True)

    def on_phase(metrics: dict[str, Any], history: list[dict[str, Any]]) -> None:
        if verbose:
            print(format_row(metrics), flush=True)
        if out is not None:
            write_atomic(out / "phases.csv", pd.DataFrame(history).to_csv(index=False))

    result = run_phases(cfg, learner, memory, on_phase=on_phase)
    result = {"config": cfg.model_dump(mode="json"), **result}
    if out is not None:
        write_atomic(out / "result.json", json.dumps(result, indent=2, allow_nan=True))
    if verbose:
        s = result["summary"]
        print(f"average incremental accuracy {s['avg_inc_acc']:.2f}  last accuracy {s['last_acc']:.2f}  "
              f"forgetting {s['forgetting']:.2f}  mean imbalance {s['avg_imbalance']:.2f}"
              + (f"  (validation: average incremental accuracy {s['val_avg_inc_acc']:.2f})"
                 if "val_avg_inc_acc" in s else ""))
    return result


RUN_FILES = ("result.json", "phases.csv")


def check_out(out: Path, overwrite: bool, field: str) -> None:
    """``out`` must be a folder we can write, and not hold a run unless ``overwrite``."""
    check_writable_dir(out, field)
    held = [name for name in RUN_FILES if (out / name).exists()]
    if held and not overwrite:
        raise ConfigError(f"{field}: '{out}' already holds a run ({held[0]}); pass --overwrite to replace "
                          "it or choose another --out")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raycil.run", description=__doc__.splitlines()[0])
    parser.add_argument("config", help="experiment YAML")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="dotted override, e.g. --set train.epochs=3 (repeatable)")
    parser.add_argument("--profile", help="a named profile of the YAML's profiles: section")
    parser.add_argument("--out", help="output directory (default: runs/<name>)")
    parser.add_argument("--overwrite", action="store_true", help="replace the run an existing --out holds")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads, the same as --set threads=N (default: the config's, 1); "
                             "the metrics depend on it, result.json records it")
    args = parser.parse_args(argv)
    overrides = args.overrides + ([f"threads={args.threads}"] if args.threads is not None else [])
    try:
        cfg = load_config(args.config, args.profile, overrides)
        out = Path(args.out) if args.out else Path("runs") / cfg.name
        check_out(out, args.overwrite, "--out" if args.out else "--out (default runs/<name>)")
        check_precision(resolve_device(cfg.device), cfg.train.precision)
        load_dataset(cfg.dataset)  # a bad data root fails here, before anything is written
    except (ConfigError, FileNotFoundError) as err:
        print(f"raycil.run: error: {err}", file=sys.stderr)
        return 2
    run_experiment(cfg, out)
    print(f"wrote {out / 'result.json'} and {out / 'phases.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
