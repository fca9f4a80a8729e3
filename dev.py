"""Set up, test, build and run the book with nothing but Python >= 3.11.

    python dev.py book [--scale smoke|cpu|gpu]   set up, (re-execute chapters,) build the site
    python dev.py test                           set up, then lint, unit tests, notebooks at smoke, book build
    python dev.py run 01 --scale cpu             re-execute one chapter in place
    python dev.py setup                          only create .venv and install
    python dev.py settle                         store executed notebooks' progress bars as finally shown

Everything runs inside `.venv` (created on first use) unless a virtual or conda environment is already
active, in which case that one is used and a torch already there is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
TORCH_CPU = "torch==2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
BOOK_HTML = ROOT / "_build" / "html" / "index.html"


def in_environment() -> bool:
    """True inside a virtualenv or a conda environment (use it as it is)."""
    return sys.prefix != sys.base_prefix or "CONDA_PREFIX" in os.environ


def python() -> str:
    """The interpreter that runs everything: the active environment's, else `.venv`'s."""
    if in_environment():
        return sys.executable
    return str(VENV / ("Scripts" if os.name == "nt" else "bin") / "python")


def sh(*args: str, env: dict | None = None, cwd: Path = ROOT) -> None:
    """Run a command, echoing it; stop with its exit code if it fails."""
    print("+", " ".join(args), flush=True)
    result = subprocess.run(args, cwd=cwd, env={**os.environ, **(env or {})})
    if result.returncode:
        sys.exit(result.returncode)


def setup() -> None:
    """Create `.venv` if needed, put a CPU build of torch in place unless one is installed, install the package."""
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py may be started by an older Python)
        sys.exit(f"Python >= 3.11 is needed, this is {sys.version.split()[0]}")
    if not in_environment() and not Path(python()).exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    py = python()
    has_torch = subprocess.run([py, "-c", "import torch"], capture_output=True).returncode == 0
    if not has_torch:
        # A CPU wheel on local disk (found through pip's find-links) first, its dependencies from the usual
        # index; else the PyTorch CPU index. Never PyPI's default Linux wheel, a multi-GB CUDA build.
        local = [py, "-m", "pip", "install", "-q", "--no-index", "--no-deps", TORCH_CPU]
        if subprocess.run(local, cwd=ROOT, capture_output=True).returncode == 0:
            sh(py, "-m", "pip", "install", "-q", TORCH_CPU)
        else:
            sh(py, "-m", "pip", "install", "-q", TORCH_CPU, "--index-url", TORCH_CPU_INDEX)
    sh(py, "-m", "pip", "install", "-q", "-e", ".[book,dev]")


def execute(notebook: Path, scale: str) -> None:
    """Re-execute one notebook in place at `scale` (papermill: parameters cell, outputs kept), then store
    its text outputs as a reader's screen shows them."""
    papermill = [python(), "-m", "papermill", "--cwd", str(notebook.parent), str(notebook), str(notebook)]
    sh(*papermill, env={"CASESTUDIES_SCALE": scale})
    settle_streams(notebook)


def settle_streams(notebook: Path) -> None:
    """Merge consecutive stream outputs and keep, on each line, only what follows its last carriage return.

    Progress bars redraw a line with a carriage return; Jupyter shows the final state, but the stored
    output keeps every redraw, which the book would print line after line.
    """
    data = json.loads(notebook.read_text())
    for cell in data["cells"]:
        merged: list[dict] = []
        for out in cell.get("outputs", []):
            previous = merged[-1] if merged else {}
            if (
                out["output_type"] == "stream"
                and previous.get("output_type") == "stream"
                and previous["name"] == out["name"]
            ):
                previous["text"] = "".join(previous["text"]) + "".join(out["text"])
            else:
                merged.append(out)
        for out in merged:
            if out["output_type"] == "stream":
                lines = "".join(out["text"]).split("\n")
                out["text"] = "\n".join(
                    next((part for part in reversed(line.split("\r")) if part.strip()), "") for line in lines
                )
        if "outputs" in cell:
            cell["outputs"] = merged
    notebook.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def chapters() -> list[Path]:
    """The chapter notebooks, in order."""
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def build_book() -> None:
    """Build the site from the committed outputs, warnings as errors."""
    jupyter_book = Path(python()).with_name("jupyter-book")  # the package has no `python -m` entry point
    sh(str(jupyter_book), "build", ".", "-W", "--keep-going")
    print(f"\nThe book is at {BOOK_HTML}")


def test() -> None:
    """The whole suite: ruff, unit tests, every notebook at smoke scale under nbval, the book build."""
    py = python()
    sh(py, "-m", "ruff", "check", "src", "tests", "benchmarks", "dev.py")
    sh(py, "-m", "pytest", "tests")
    with tempfile.TemporaryDirectory(prefix="casestudies-results-") as results:
        notebooks = [str(p) for p in chapters()] + ["book/scorecard.ipynb"]
        sh(
            py,
            "-m",
            "pytest",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            *notebooks,
            env={"CASESTUDIES_SCALE": "smoke", "CASESTUDIES_RESULTS_DIR": results},
        )
    build_book()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["setup", "book", "test", "run", "settle"])
    parser.add_argument("chapter", nargs="?", help="with `run`: the chapter number, e.g. 01")
    parser.add_argument("--scale", choices=["smoke", "cpu", "gpu"], help="re-execute chapters at this scale")
    args = parser.parse_args()
    if args.command == "settle":  # re-store the outputs of already executed notebooks; needs no set-up
        for notebook in [*chapters(), ROOT / "book" / "scorecard.ipynb"]:
            settle_streams(notebook)
        return
    setup()
    if args.command == "book":
        for notebook in chapters() if args.scale else []:
            execute(notebook, args.scale)
        if args.scale:
            execute(ROOT / "book" / "scorecard.ipynb", args.scale)
        build_book()
    elif args.command == "test":
        test()
    elif args.command == "run":
        matches = [p for p in chapters() if args.chapter and p.name.startswith(f"{int(args.chapter):02d}-")]
        if not matches:
            sys.exit(f"no chapter {args.chapter!r}; chapters are {[p.name[:2] for p in chapters()]}")
        execute(matches[0], args.scale or os.environ.get("CASESTUDIES_SCALE", "cpu"))


if __name__ == "__main__":
    main()
