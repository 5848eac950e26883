"""Metrics of the shipped configs and sweeps, kept to the last digit, so that a change which
should not alter results can be shown not to.

    python tests/golden_metrics.py record --level smoke   # write tests/golden/smoke.json
    python tests/golden_metrics.py check --level local    # rerun and list every difference
    python tests/golden_metrics.py check --only cim --accept   # and record what changed (on purpose)
    python tests/golden_metrics.py check --new-keys-ok         # a metric added: only the old ones compared

Cases: every ``configs/*.yaml`` under its ``smoke`` (or ``local``) profile, and every trial of
every shipped sweep under its ``smoke`` profile (``local``: the CIM Table 3 rows at seed 0). Each
runs in-process with one torch thread (the actors' setting, so a sweep trial gives the same
numbers); timings are left out. ``tests/test_golden_metrics.py`` reruns a few smoke cases.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
VOLATILE = {"train_seconds", "images_per_s"}
SWEEPS_LOCAL = {"ablations/cim_table3.yaml": [0]}  # (file: seeds) rerun at the local level


def cases(level: str) -> list[str]:
    """Case ids: ``config:<file>:<profile>`` or ``sweep:<file>:<profile>:<trial label>``."""
    from raycil.sweep.plan import plan_sweep

    out = [f"config:{p.relative_to(ROOT)}:{level}" for p in sorted((ROOT / "configs").glob("*.yaml"))]
    files = sorted((ROOT / "ablations").glob("*.yaml")) + sorted((ROOT / "search_spaces").glob("*.yaml"))
    for path in files:
        rel = str(path.relative_to(ROOT))
        if level == "local" and rel not in SWEEPS_LOCAL:
            continue
        plan = plan_sweep(path, level)
        seeds = SWEEPS_LOCAL.get(rel) if level == "local" else None
        out += [f"sweep:{rel}:{level}:{t.label()}" for t in plan.trials if seeds is None or t.seed in seeds]
    return out


def experiment(case: str) -> Any:
    from raycil.config import load_config
    from raycil.sweep.plan import plan_sweep

    kind, rel, profile, label = (case.split(":", 3) + [""])[:4]
    if kind == "config":
        return load_config(ROOT / rel, profile)
    plan = plan_sweep(ROOT / rel, profile)
    return plan.experiment_config(next(t for t in plan.trials if t.label() == label))


def run_case(case: str) -> list[dict[str, Any]]:
    """The case's per-phase metrics (one torch thread, CPU), timings dropped."""
    import torch

    from raycil.run import run_experiment

    torch.set_num_threads(1)
    cfg = experiment(case).model_copy(update={"device": "cpu"})
    phases = run_experiment(cfg, None, verbose=False)["phases"]
    return [{k: v for k, v in p.items() if k not in VOLATILE} for p in phases]


def differences(expected: list[dict[str, Any]], got: list[dict[str, Any]],
                new_keys_ok: bool = False) -> list[str]:
    """Every metric that differs (NaN equals NaN; a key on one side only counts, except, with
    ``new_keys_ok``, a key only the new run has: a metric added on purpose)."""
    if len(expected) != len(got):
        return [f"{len(expected)} phases recorded, {len(got)} now"]
    bad = []
    for i, (a, b) in enumerate(zip(expected, got, strict=True), start=1):
        for key in sorted(set(a) | (set(a) if new_keys_ok else set(b))):
            x, y = a.get(key), b.get(key)
            nan = isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)
            if not nan and x != y:
                bad.append(f"phase {i} {key}: {x} -> {y}")
    return bad


def path_for(level: str) -> Path:
    return GOLDEN / f"{level}.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["record", "check"])
    parser.add_argument("--level", choices=["smoke", "local"], default="smoke")
    parser.add_argument("--only", default="", help="run the cases whose id contains this text")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--new-keys-ok", action="store_true",
                        help="with check: metrics the recorded run lacks are not differences")
    parser.add_argument("--accept", action="store_true",
                        help="with check: record the new and differing cases' metrics")
    args = parser.parse_args(argv)
    todo = [c for c in cases(args.level) if args.only in c]
    with ProcessPoolExecutor(args.workers) as pool:
        results = dict(zip(todo, pool.map(run_case, todo), strict=True))
    path = path_for(args.level)
    if args.action == "record":
        old = json.loads(path.read_text()) if path.is_file() else {}
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps({**old, **results}, indent=1, sort_keys=True, allow_nan=True) + "\n")
        print(f"recorded {len(results)} cases in {path}")
        return 0
    recorded = json.loads(path.read_text())
    failed = 0
    for case, phases in results.items():
        if case not in recorded:
            print(f"NEW   {case}")
            continue
        bad = differences(recorded[case], phases, args.new_keys_ok)
        failed += bool(bad)
        print(f"{'DIFF' if bad else 'same'}  {case}" + "".join(f"\n      {b}" for b in bad[:12]))
    print(f"{len(results) - failed} of {len(results)} cases unchanged")
    if args.accept:
        path.write_text(json.dumps({**recorded, **results}, indent=1, sort_keys=True, allow_nan=True) + "\n")
        print(f"recorded {len(results)} cases in {path}")
        return 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
