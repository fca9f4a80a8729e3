"""How long the development test commands take: `dev.py test --fast` (lint and the unit tests not marked slow)
and, with `--dry`, the dry run of every chapter's `gpu` path that `dev.py test` adds to CI.

Each command runs `--repeats` times in a fresh process; the median wall time and the spread are printed.

    python benchmarks/suite.py [--repeats 3] [--dry]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds one run of `command` took, from the repository root; stops if it fails."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env={**os.environ, **(env or {})}, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dry", action="store_true", help="also time the chapters' gpu dry run under nbval")
    args = parser.parse_args()
    commands = {"dev.py test --fast": ([sys.executable, "dev.py", "test", "--fast"], None)}
    with tempfile.TemporaryDirectory() as results:
        if args.dry:
            env = {"CASESTUDIES_SCALE": "gpu", "CASESTUDIES_DRY": "1", "CASESTUDIES_RESULTS_DIR": results}
            notebooks = sorted(str(p) for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
            nbval = [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", *notebooks]
            commands["gpu dry run, 12 chapters"] = (nbval, env)
        for name, (command, env) in commands.items():
            times = [timed(command, env) for _ in range(args.repeats)]
            print(
                f"{name}: median {statistics.median(times):.0f} s over {args.repeats} runs "
                f"(min {min(times):.0f}, max {max(times):.0f})",
                flush=True,
            )


if __name__ == "__main__":
    main()
