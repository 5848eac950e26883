"""``python -m raycil.report EXP_DIR``: rebuild a sweep folder's tables, plots, Optuna study and
report.html, and print the summary."""

from __future__ import annotations

import argparse
import sys

from raycil.report.build import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raycil.report", description=__doc__.splitlines()[0])
    parser.add_argument("exp_dir", help="a sweep's output directory (storage_path/name)")
    args = parser.parse_args(argv)
    try:
        print(build(args.exp_dir).text)
    except FileNotFoundError as err:
        print(f"raycil.report: error: {err}", file=sys.stderr)
        return 2
    return 0
