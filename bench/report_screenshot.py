"""Screenshot a run's report.html in headless Chromium at a 1,400 px wide window (the readability check).

Usage: python bench/report_screenshot.py REPORT_HTML OUT_PNG [--height 2400]
Prints a table (machine, command, figures). Needs Debian's `chromium` (apt-get install chromium); exits 2 without it.
"""
from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WIDTH = 1400


def chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


def screenshot(html: Path, out: Path, height: int = 2400) -> float:
    """Render ``html`` offline (no network) into ``out``; returns the seconds it took."""
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("chromium not found (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        started = time.perf_counter()
        subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}",
             "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # offline: any fetch would fail
             f"--window-size={WIDTH},{height}", f"--screenshot={out.resolve()}", html.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )
        return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--height", type=int, default=2400)
    args = ap.parse_args()
    if chromium() is None:
        print("chromium not found: apt-get install chromium", file=sys.stderr)
        return 2
    seconds = screenshot(args.html, args.out, args.height)
    print(f"| machine | command | page size | screenshot | time |\n|---|---|---|---|---|\n"
          f"| {platform.machine()} {platform.python_version()} | chromium --headless {WIDTH}x{args.height} | "
          f"{args.html.stat().st_size / 1024:.0f} KiB | {args.out} ({args.out.stat().st_size / 1024:.0f} KiB) | "
          f"{seconds:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
