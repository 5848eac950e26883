"""Open a sweep's ``report.html`` in headless Chromium and save a screenshot of the page.

    python -m raycil.sweep ablations/cim_table3.yaml --profile smoke
    python benchmarks/report_screenshot.py runs/sweeps/cim_table3_smoke [--out shot.png] [--height 6000]

The page is loaded from the file with the network closed to the browser (no background
connections, no proxy), so what shows is what a reader sees offline; the script prints the
screenshot's path and the page's size. Without a Chromium on the machine it says so and does
nothing (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--proxy-server=127.0.0.1:9", "--hide-scrollbars")


def browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(page: Path, out: Path, width: int, height: int, exe: str) -> None:
    """Render ``page`` at ``width`` x ``height`` CSS pixels into ``out`` (PNG)."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--screenshot={out}", page.resolve().as_uri()]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exp_dir", type=Path, help="a sweep's output folder holding report.html")
    parser.add_argument("--out", type=Path, help="the PNG to write (default: EXP_DIR/report_screenshot.png)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=6000, help="window height: the part shown")
    args = parser.parse_args()
    page = args.exp_dir / "report.html"
    if not page.is_file():
        print(f"report_screenshot: {page} does not exist (run the sweep, or python -m raycil.report "
              f"{args.exp_dir})", file=sys.stderr)
        return 2
    exe = browser()
    if exe is None:
        print("report_screenshot: no Chromium on this machine (Debian: apt-get install chromium); "
              "nothing done")
        return 0
    out = args.out or args.exp_dir / "report_screenshot.png"
    screenshot(page, out, args.width, args.height, exe)
    size = page.stat().st_size / 1024
    print(f"{out}: {args.width} x {args.height} screenshot of {page} ({size:.0f} KiB page)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
