"""Where things are: the checkout, its build folders and its chapters; and the machine paths kept out of what a
reader sees. Standard library only: `dev.py` imports it before any set-up."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: devtools/ sits at its root, next to dev.py
SRC = ROOT / "src"  # the package's source: `casestudies.scale` is read from here before any set-up
VENV = ROOT / ".venv"
BUILD = ROOT / "_build"
BOOK_HTML = BUILD / "html" / "index.html"
BOOK_PAGES = [ROOT / "book" / "scorecard.ipynb", ROOT / "book" / "status.ipynb"]  # computed from the results
STUDENT_DIR = BUILD / "student"  # the student site: `_build/student/_build/html/`, solutions left out
ASSIGNMENTS_DIR = BUILD / "assignments"  # one Otter-Grader assignment per chapter: student/ and autograder/
SMOKE_DIR = BUILD / "smoke"  # executed copies of smoke runs: the committed notebooks keep their cpu outputs
DRY_DIR = BUILD / "dry"  # executed copies of dry runs of the gpu path (CASESTUDIES_DRY), never published
FAILED_DIR = BUILD / "failed"  # executed copies of runs where a cell failed, for inspection
EXECUTING_DIR = BUILD / "executing"  # runs in progress, one folder per process (same disk as the notebooks)
FINISHED_DIR = BUILD / "finished"  # finished runs that could not be moved into place
REPLICATIONS_DIR = BUILD / "replications"  # `dev.py replicate`: a chapter re-run on a reader's seeds
COLAB_DIR = BUILD / "colab"  # the fresh environment and the executed copy of `dev.py colab`
BROWSE_DIR = BUILD / "browser"  # screenshots of two chapters, for a person to look at
GLANCE_DIR = ROOT / "book" / "_generated"  # each chapter's "at a glance" box and the home page's verdict table
TEMPLATE = ROOT / "templates" / "chapter.ipynb"  # `dev.py new` copies it; CI runs it at smoke, so it cannot rot
MACHINE_PATH = re.compile(r"(?<![\w.:/])/(?:home|root|Users|tmp|work|opt|usr|private|var)/[^\s\"'<>]*")


def relative(path: Path) -> Path:
    """`path` relative to the checkout when it is inside it, else as it is."""
    try:
        return path.resolve().relative_to(ROOT)
    except ValueError:
        return path


def without_machine_paths(text: str) -> str:
    """`text` with this checkout's absolute path made relative (`/…/repo/src/x.py` -> `src/x.py`) and any other
    absolute path in it cut to its last two parts, so no output shows the machine that ran it."""
    text = text.replace(f"{ROOT}/", "")
    return MACHINE_PATH.sub(lambda m: "…/" + "/".join(m.group(0).rstrip("/").split("/")[-2:]), text)


def chapters() -> list[Path]:
    """The chapter notebooks, in order."""
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def chapter(number: str | None) -> Path:
    """The chapter named by `number`: "1", "01", its full name ("01-binary-reward-calibration") or its path; stop
    with the list of chapters otherwise."""
    if not number:
        sys.exit(f"name a chapter, e.g. `python dev.py run 01`; chapters are {[p.name[:2] for p in chapters()]}")
    stem = Path(number).name.removesuffix(".ipynb")
    digits = stem.split("-", 1)[0]
    matches = [
        p for p in chapters() if p.stem == stem or (digits.isdigit() and p.name.startswith(f"{int(digits):02d}-"))
    ]
    if len(matches) != 1 or (not stem.isdigit() and matches[0].stem != stem):
        sys.exit(f"no chapter {number!r}; chapters are {[p.name[:2] for p in chapters()]}")
    return matches[0]
