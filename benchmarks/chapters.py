"""Wall time of each chapter notebook at `smoke` and `cpu` scale, executed end to end with papermill.

Smoke runs are repeated (median reported); a cpu run is long, so it runs `--cpu-repeats` times (default 1).
On a machine with a GPU, `--gpu-repeats 1` runs each chapter at `gpu` scale too (never needed by CI).
Results go to a temporary folder, never over the committed ones. With `--record`, the medians (and, for the
`gpu` scale, the verdict of the last run) are merged into `benchmarks/timings.json`, which the book's status
page reads.

    python benchmarks/chapters.py [--smoke-repeats 3] [--cpu-repeats 1] [--gpu-repeats 0] [--only 01] [--record]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = ROOT / "benchmarks" / "timings.json"


def run(notebook: Path, scale: str) -> tuple[float, str | None]:
    """Execute `notebook` at `scale` into a scratch copy; return the wall time in seconds and the verdict its
    results file states (None for a notebook that writes none)."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "CASESTUDIES_SCALE": scale, "CASESTUDIES_RESULTS_DIR": scratch}
        env.pop("CASESTUDIES_DRY", None)  # a dry run's time is not the gpu scale's
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "papermill",
                "--cwd",
                str(notebook.parent),
                str(notebook),
                str(Path(scratch) / notebook.name),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - start
        written = sorted(Path(scratch).rglob(f"{notebook.stem}.json"))
        return seconds, json.loads(written[0].read_text())["verdict"] if written else None


def record(chapter: str, scale: str, times: list[float], verdict: str | None = None, path: Path = TIMINGS) -> None:
    """Merge one chapter's timing at one scale into `path` (the median, the runs, when and on how many cores,
    and the verdict when one is given), keeping what is recorded for other chapters and scales."""
    timings = json.loads(path.read_text()) if path.exists() else {}
    entry = {
        "median_s": round(statistics.median(times), 1),
        "runs": len(times),
        "measured": datetime.date.today().isoformat(),
        "cores": os.cpu_count(),
    }
    timings.setdefault(chapter, {})[scale] = entry | ({"verdict": verdict} if verdict else {})
    path.write_text(json.dumps(dict(sorted(timings.items())), indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-repeats", type=int, default=3)
    parser.add_argument("--cpu-repeats", type=int, default=1)
    parser.add_argument("--gpu-repeats", type=int, default=0, help="runs at gpu scale (needs a CUDA GPU)")
    parser.add_argument("--only", help="chapter number, e.g. 01")
    parser.add_argument("--record", action="store_true", help=f"merge the medians into {TIMINGS.relative_to(ROOT)}")
    args = parser.parse_args()
    if args.gpu_repeats > 0:
        import torch

        if not torch.cuda.is_available():
            sys.exit("--gpu-repeats needs a CUDA GPU; this machine has none")
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    if args.only:
        notebooks = [p for p in notebooks if p.name.startswith(f"{int(args.only):02d}-")]
    print(f"{'chapter':<36} {'scale':<6} {'runs':>4} {'median s':>9} {'budget s':>9}")
    for notebook in notebooks:
        plan = (("smoke", args.smoke_repeats, 60), ("cpu", args.cpu_repeats, 600), ("gpu", args.gpu_repeats, 1800))
        for scale, repeats, budget in plan:
            if repeats < 1:
                continue
            runs = [run(notebook, scale) for _ in range(repeats)]
            times = [seconds for seconds, _ in runs]
            if args.record:
                record(notebook.stem, scale, times, verdict=runs[-1][1] if scale == "gpu" else None)
            print(
                f"{notebook.stem:<36} {scale:<6} {repeats:>4} {statistics.median(times):>9.1f} {budget:>9}", flush=True
            )


if __name__ == "__main__":
    main()
