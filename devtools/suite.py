"""`dev.py test`: lint, the unit tests, every notebook at smoke and every chapter's gpu path as a dry run, the
book build, and the browser check of both sites where Chromium is installed."""

from __future__ import annotations

import os
import shutil
import tempfile

from devtools import paths
from devtools.browser import BROWSERS, browse
from devtools.environment import python, sh
from devtools.paths import chapters
from devtools.site import build_book


def test(fast: bool = False) -> None:
    """The whole suite: ruff, unit tests, every notebook at smoke scale and every chapter's `gpu` path as a dry run
    (see `casestudies.scale.dry`) under nbval, the book build and, where Chromium is installed, both sites opened
    and checked in it (`dev.py browse`). With `fast`,
    ruff and the unit tests not marked `slow` only, for development."""
    py = python()
    sh(
        py,
        "-m",
        "ruff",
        "check",
        "src",
        "tests",
        "benchmarks",
        "pilots",
        "templates",
        "dev.py",
        "devtools",
        "notebooks",
        *map(str, paths.BOOK_PAGES),
    )
    if fast:
        sh(py, "-m", "pytest", "tests", "-m", "not slow")
        return
    sh(py, "-m", "pytest", "tests")
    with tempfile.TemporaryDirectory(prefix="casestudies-results-") as results:
        notebooks = [str(p) for p in [*chapters(), paths.TEMPLATE, *paths.BOOK_PAGES]]
        nbval = (py, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider")
        sh(*nbval, *notebooks, env={"CASESTUDIES_SCALE": "smoke", "CASESTUDIES_RESULTS_DIR": results})
        dry = {"CASESTUDIES_SCALE": "gpu", "CASESTUDIES_DRY": "1", "CASESTUDIES_RESULTS_DIR": f"{results}/dry"}
        sh(*nbval, *map(str, chapters()), env=dry)  # every line a GPU reader runs, on CPU with smoke budgets
    build_book()
    build_book(student=True)
    if not any(shutil.which(name) for name in BROWSERS):
        if os.environ.get("CI"):
            raise SystemExit("CI needs Chromium for the browser check: `apt-get install chromium` (see .ci/run)")
        print("SKIPPED: the browser check of both sites (no Chromium here; `apt-get install chromium` adds it)")
        return
    browse(paths.BOOK_HTML.parent)
    browse(paths.STUDENT_DIR / "_build" / "html")
