"""Set up, test, build and run the book with nothing but Python >= 3.11.

    python dev.py book [--scale smoke|cpu|gpu]   set up, (re-execute chapters,) build the site
    python dev.py book --student                 the same site with the exercises' solutions left out
    python dev.py test [--fast]                  set up, then lint, unit tests, notebooks at smoke, book build
                                                 (--fast: lint and the unit tests not marked slow)
    python dev.py run 01 --scale cpu             re-execute one chapter, replacing it only if every cell ran
    python dev.py replicate 01 --seeds 30-35     re-run a chapter on your own seeds (at cpu, into _build/), and
                                                 print each hypothesis' published outcome beside yours
    python dev.py colab 01                       run a chapter as Colab would: a fresh environment with only
                                                 torch and Jupyter, the package installed by its first cell
    python dev.py setup                          only create .venv and install
    python dev.py settle                         store executed notebooks' progress bars as finally shown
    python dev.py browse [--student]             open every page of the built site in headless Chromium, offline:
                                                 math rendered, figures and links there, launch buttons present
    python dev.py assignments                    build each chapter's code exercise as an Otter-Grader assignment
    python dev.py grade 02 --submissions DIR     grade a class's notebooks in DIR with chapter 2's autograder
                                                 (one after another, `otter run`), into DIR/grades.csv
    python dev.py new 13 short-name "Title"      a new chapter from the template, with stubs where the book lists it

This file is only the bootstrap: it reads the command line, sets up the environment and re-launches itself
there, then calls the command's module in `devtools/` (`notebooks`, `replicate`, `colab`, `site`, `browser`,
`assignments`, `scaffold`, `suite`; where things are: `paths`; the environment: `environment`). `new`,
`settle`, `colab` and `browse` run before any set-up, so this file and every module of `devtools/` import only
the standard library when loaded (a heavier package is imported inside the function that needs it).
Unknown options, and options a command does not take, are errors.

Everything runs inside `.venv` (created on first use) unless a virtual environment or a conda environment
other than conda's `base` is active, in which case that one is used and a torch already there is kept.
The install is skipped when neither pyproject.toml nor the version changed since the last one that worked.

A re-executed notebook is written to a temporary file and replaces the committed one only when every cell
succeeded (a cell that runs past `devtools.notebooks.CELL_TIMEOUT`, an hour, fails the run); a failed run
is kept under `_build/failed/`. At `smoke` scale nothing committed is replaced: the executed copies go to
`_build/smoke/` and their results to `results/smoke/`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

from devtools import paths
from devtools.assignments import build_assignments, grade_class
from devtools.browser import browse
from devtools.colab import colab_check
from devtools.environment import environment_note, in_environment, install_torch, python, same_path, sh
from devtools.notebooks import execute, execute_book, normalised_scale, settle_streams
from devtools.paths import chapter, chapters
from devtools.replicate import replicate, seed_range
from devtools.scaffold import new_chapter
from devtools.site import build_book
from devtools.suite import test

STAMP_NAME = ".casestudies-install-stamp"
RELAUNCHED = "CASESTUDIES_DEV_RELAUNCHED"  # set when dev.py re-started itself in the project's environment


def install_stamp(pyproject: str, version: str, interpreter: str, root: str) -> str:
    """What the last successful install was made from: pyproject.toml's text, the package version, the
    interpreter it went into and the checkout it points to (an editable install), as one hash."""
    digest = hashlib.sha256()
    for part in (pyproject, version, interpreter, root):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def needs_install(stamp: Path, expected: str) -> bool:
    """Whether the package must be (re)installed: no stamp yet, or one made from something else."""
    try:
        return stamp.read_text().strip() != expected
    except OSError:
        return True


def current_stamp(py: str) -> str:
    """The install stamp for this checkout and interpreter `py`."""
    init = (paths.ROOT / "src" / "casestudies" / "__init__.py").read_text()
    version = next((line for line in init.splitlines() if line.startswith("__version__")), "")
    interpreter = Path(py).parent.resolve() / Path(py).name  # not the link's target: a venv's python is a link
    return install_stamp((paths.ROOT / "pyproject.toml").read_text(), version, str(interpreter), str(paths.ROOT))


def stamp_file() -> Path:
    """Where the stamp lives: inside the environment the package is installed into."""
    return Path(sys.prefix if in_environment() else paths.VENV) / STAMP_NAME


def setup() -> None:
    """Create `.venv` if needed, put a CPU build of torch in place unless one is installed, install the package
    unless nothing changed since the last install."""
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py may be started by an older Python)
        sys.exit(f"Python >= 3.11 is needed, this is {sys.version.split()[0]}")
    note = environment_note()
    if note:
        print(note, flush=True)
    if not in_environment() and not Path(python()).exists():
        print(f"creating {paths.VENV}", flush=True)
        venv.create(paths.VENV, with_pip=True)
    py = python()
    install_torch(py)
    stamp, expected = stamp_file(), current_stamp(py)
    installed = [py, "-c", "import importlib.metadata as m; m.version('casestudies')"]
    if not needs_install(stamp, expected) and subprocess.run(installed, capture_output=True).returncode == 0:
        print(f"casestudies is installed and pyproject.toml is unchanged: install skipped (delete {stamp} to force it)")
        return
    elsewhere = installed_from(py)
    if elsewhere and not same_path(elsewhere, paths.ROOT):
        print(f"note: casestudies in this environment was installed from {elsewhere}; it now points at {paths.ROOT}")
    sh(py, "-m", "pip", "install", "-q", "-e", ".[book,dev]")
    try:
        stamp.write_text(expected + "\n")
    except OSError as error:  # a read-only environment: install again next time
        print(f"could not write {stamp} ({error}); the next run installs again", flush=True)


def installed_from(py: str) -> str | None:
    """The checkout an editable install of casestudies in `py`'s environment points at, or None."""
    ask = (
        "import importlib.metadata as m, json; "
        "print(json.loads(m.distribution('casestudies').read_text('direct_url.json'))['url'])"
    )
    found = subprocess.run([py, "-c", ask], capture_output=True, text=True)
    url = found.stdout.strip()
    return url.removeprefix("file://") if found.returncode == 0 and url.startswith("file://") else None


USES = {  # which arguments each command takes; any other is an error, not silently ignored
    "setup": set(),
    "book": {"scale", "student"},
    "test": {"fast"},
    "run": {"chapter", "scale"},
    "replicate": {"chapter", "scale", "seeds"},
    "settle": set(),
    "colab": {"chapter"},
    "browse": {"student"},
    "assignments": set(),
    "grade": {"chapter", "submissions"},
    "new": {"chapter", "short", "title"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=list(USES))
    parser.add_argument("chapter", nargs="?", help="with `run`, `replicate`, `colab` or `new`: the chapter, e.g. 01")
    parser.add_argument("short", nargs="?", help="with `new`: the chapter's short name, e.g. reward-hacking")
    parser.add_argument("title", nargs="?", help='with `new`: its title, e.g. "Rewards that can be hacked"')
    parser.add_argument("--scale", type=str.lower, choices=["smoke", "cpu", "gpu"], help="the scale to run at")
    parser.add_argument("--submissions", help="with `grade`: the folder of submitted notebooks")
    parser.add_argument("--seeds", help="with `replicate`: the seeds, e.g. 30-35 or 30,31,32")
    parser.add_argument("--fast", action="store_true", help="with `test`: ruff and the unit tests not marked slow")
    parser.add_argument(
        "--student", action="store_true", help="with `book`: leave the solutions out; with `browse`: check that site"
    )
    args = parser.parse_args()
    names = ("chapter", "short", "title", "scale", "seeds", "student", "fast", "submissions")
    given = {name for name in names if getattr(args, name)}
    if given - USES[args.command]:
        parser.error(f"`{args.command}` does not take {', '.join(sorted(given - USES[args.command]))}")
    if args.command == "new":  # writes files from the template; needs no set-up
        new_chapter(args.chapter, args.short, args.title)
        return
    if args.command in ("run", "replicate", "colab", "grade"):
        notebook = chapter(args.chapter)
    if args.command == "grade" and not (args.submissions and Path(args.submissions).is_dir()):
        parser.error("`grade` needs --submissions, a folder of submitted notebooks")
    if args.command == "settle":  # re-store the outputs of already executed notebooks; needs no set-up
        for page in [*chapters(), *paths.BOOK_PAGES]:
            settle_streams(page)
        return
    if args.command == "colab":  # its own fresh environment, never .venv
        colab_check(notebook)
        return
    if args.command == "browse":  # reads a site already built; needs a browser, not the environment
        browse(paths.STUDENT_DIR / "_build" / "html" if args.student else paths.BOOK_HTML.parent)
        return
    if args.command == "replicate":
        if not args.seeds:
            parser.error("`replicate` needs --seeds, e.g. --seeds 30-35")
        seeds = seed_range(args.seeds)
    scale = normalised_scale(args.scale or os.environ.get("CASESTUDIES_SCALE"))
    if os.environ.get(RELAUNCHED) != str(paths.ROOT):
        setup()
        if not in_environment() and not same_path(sys.prefix, paths.VENV):  # go on in .venv, where the packages are
            os.execve(
                python(),
                [python(), str(paths.ROOT / "dev.py"), *sys.argv[1:]],
                {**os.environ, RELAUNCHED: str(paths.ROOT)},
            )
    if args.command == "book":
        if args.scale:
            execute_book(scale)
        build_book(student=args.student)
    elif args.command == "test":
        test(fast=args.fast)
    elif args.command == "assignments":
        build_assignments()
    elif args.command == "grade":
        grade_class(notebook, Path(args.submissions))
    elif args.command == "replicate":
        replicate(notebook, seeds, scale or "cpu")
    elif args.command == "run" and not execute(notebook, scale):
        sys.exit(1)


if __name__ == "__main__":
    main()
