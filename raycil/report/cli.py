"""``python -m raycil.report EXP_DIR``: rebuild a sweep folder's tables, plots, Optuna study and
report.html, and print the summary; for a tuning sweep's folder, every stage's and the
protocols table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from raycil.report.build import build
from raycil.report.protocols import build_protocols, is_tuning_dir


def build_tuning(exp_dir: Path) -> str:
    """Each stage folder's outputs rebuilt, then ``protocols.csv`` / ``protocols.md``; their text."""
    built = [build(d) for d in sorted(exp_dir.iterdir()) if (d / "sweep.json").is_file()]
    return "\n\n".join([b.text for b in built] + [build_protocols(exp_dir).text])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raycil.report", description=__doc__.splitlines()[0])
    parser.add_argument("exp_dir", help="a sweep's output directory (storage_path/name)")
    args = parser.parse_args(argv)
    try:
        exp_dir = Path(args.exp_dir)
        print(build_tuning(exp_dir) if is_tuning_dir(exp_dir) else build(exp_dir).text)
    except FileNotFoundError as err:
        print(f"raycil.report: error: {err}", file=sys.stderr)
        return 2
    return 0
