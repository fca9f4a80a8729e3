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

Everything runs inside `.venv` (created on first use) unless a virtual environment or a conda environment
other than conda's `base` is active, in which case that one is used and a torch already there is kept.
The install is skipped when neither pyproject.toml nor the version changed since the last one that worked.

A re-executed notebook is written to a temporary file and replaces the committed one only when every cell
succeeded; a failed run is kept under `_build/failed/`. At `smoke` scale nothing committed is replaced: the
executed copies go to `_build/smoke/` and their results to `results/smoke/`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "src"  # the package's source: `casestudies.scale` is read from here before any set-up
VENV = ROOT / ".venv"
TORCH_CPU = "torch==2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
BUILD = ROOT / "_build"
BOOK_HTML = BUILD / "html" / "index.html"
BOOK_PAGES = [ROOT / "book" / "scorecard.ipynb", ROOT / "book" / "status.ipynb"]  # computed from the results
STUDENT_DIR = BUILD / "student"  # the student site: `_build/student/_build/html/`, solutions left out
ASSIGNMENTS_DIR = BUILD / "assignments"  # one Otter-Grader assignment per chapter: student/ and autograder/
SMOKE_DIR = BUILD / "smoke"  # executed copies of smoke runs: the committed notebooks keep their cpu outputs
FAILED_DIR = BUILD / "failed"  # executed copies of runs where a cell failed, for inspection
EXECUTING_DIR = BUILD / "executing"  # runs in progress, one folder per process (same disk as the notebooks)
FINISHED_DIR = BUILD / "finished"  # finished runs that could not be moved into place
REPLICATIONS_DIR = BUILD / "replications"  # `dev.py replicate`: a chapter re-run on a reader's seeds
STAMP_NAME = ".casestudies-install-stamp"
RELAUNCHED = "CASESTUDIES_DEV_RELAUNCHED"  # set when dev.py re-started itself in the project's environment


def same_path(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same place (resolved, case-folded where the file system is)."""
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def is_conda_base() -> bool:
    """Whether the active conda environment is conda's own `base` (the installation's root), not a project's.

    The rule: `CONDA_DEFAULT_ENV` is "base"; or `CONDA_PREFIX` is the installation's root, as named by
    `CONDA_ROOT`, `MAMBA_ROOT_PREFIX` or the folder above the one holding `CONDA_EXE` (`<root>/bin/conda`,
    `<root>/condabin/conda`); or `CONDA_PREFIX` holds `condabin/`, which only the root installation has.
    Named environments live in `<root>/envs/<name>` and prefix environments anywhere else: neither matches.
    """
    environ = os.environ
    prefix = environ.get("CONDA_PREFIX")
    if not prefix:
        return False
    if environ.get("CONDA_DEFAULT_ENV") == "base":
        return True
    roots = [environ.get("CONDA_ROOT"), environ.get("MAMBA_ROOT_PREFIX")]
    if environ.get("CONDA_EXE"):
        roots.append(str(Path(environ["CONDA_EXE"]).parent.parent))
    if any(root and same_path(root, prefix) for root in roots):
        return True
    return (Path(prefix) / "condabin").is_dir()


def in_environment() -> bool:
    """True when this interpreter belongs to an environment made for the project: use it as it is.

    That is a virtual environment (`sys.prefix` differs from `sys.base_prefix`), or the active conda
    environment (`CONDA_PREFIX`) when it is this interpreter's and is not conda's `base` (`is_conda_base`).
    Anything else, conda's `base` included, gets `.venv`.
    """
    prefix = sys.prefix
    if prefix != sys.base_prefix:
        return True
    conda = os.environ.get("CONDA_PREFIX")
    return bool(conda) and same_path(conda, prefix) and not is_conda_base()


def environment_note() -> str | None:
    """One line saying why an active conda environment is not used, or None when there is nothing to say."""
    conda = os.environ.get("CONDA_PREFIX")
    if not conda or in_environment():
        return None
    if is_conda_base():
        which = "conda's base environment is active but is not the project's"
    else:
        which = f"conda environment {conda} is active but this Python ({sys.executable}) is not its own"
    return (
        f"{which}: using {VENV.name} instead (for a dedicated conda environment: "
        "`conda env create -f environment.yml`, activate it, run again)"
    )


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
    init = (ROOT / "src" / "casestudies" / "__init__.py").read_text()
    version = next((line for line in init.splitlines() if line.startswith("__version__")), "")
    interpreter = Path(py).parent.resolve() / Path(py).name  # not the link's target: a venv's python is a link
    return install_stamp((ROOT / "pyproject.toml").read_text(), version, str(interpreter), str(ROOT))


def stamp_file() -> Path:
    """Where the stamp lives: inside the environment the package is installed into."""
    return Path(sys.prefix if in_environment() else VENV) / STAMP_NAME


def setup() -> None:
    """Create `.venv` if needed, put a CPU build of torch in place unless one is installed, install the package
    unless nothing changed since the last install."""
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py may be started by an older Python)
        sys.exit(f"Python >= 3.11 is needed, this is {sys.version.split()[0]}")
    note = environment_note()
    if note:
        print(note, flush=True)
    if not in_environment() and not Path(python()).exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    py = python()
    install_torch(py)
    stamp, expected = stamp_file(), current_stamp(py)
    installed = [py, "-c", "import importlib.metadata as m; m.version('casestudies')"]
    if not needs_install(stamp, expected) and subprocess.run(installed, capture_output=True).returncode == 0:
        print(f"casestudies is installed and pyproject.toml is unchanged: install skipped (delete {stamp} to force it)")
        return
    elsewhere = installed_from(py)
    if elsewhere and not same_path(elsewhere, ROOT):
        print(f"note: casestudies in this environment was installed from {elsewhere}; it now points at {ROOT}")
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


def install_torch(py: str) -> None:
    """Put a CPU build of torch into the environment of `py` unless one is there: a CPU wheel on local disk
    (found through pip's find-links) first, its dependencies from the usual index; else the PyTorch CPU index.
    Never PyPI's default Linux wheel, a multi-GB CUDA build."""
    if subprocess.run([py, "-c", "import torch"], capture_output=True).returncode == 0:
        return
    local = [py, "-m", "pip", "install", "-q", "--no-index", "--no-deps", TORCH_CPU]
    if subprocess.run(local, cwd=ROOT, capture_output=True).returncode == 0:
        sh(py, "-m", "pip", "install", "-q", TORCH_CPU)
    else:
        sh(py, "-m", "pip", "install", "-q", TORCH_CPU, "--index-url", TORCH_CPU_INDEX)


COLAB_DIR = BUILD / "colab"  # the fresh environment and the executed copy of `dev.py colab`
INSTALL = re.compile(r'"casestudies @ git\+[^"]+"')


def install_spec() -> str:
    """The pip requirement every Colab cell and autograder installs the package with: the book's repository at
    `repository.install_ref` of `_config.yml`, the one place the pin is set (read without YAML: stdlib only)."""
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    url = re.search(r"^  url: (\S+)$", config, re.M).group(1)
    ref = re.search(r"^  install_ref: (\S+)$", config, re.M).group(1)
    return f"casestudies @ git+{url}@{ref}"


def colab_copy(notebook: dict, source: Path) -> dict:
    """A copy of a chapter whose first cell installs the package from `source` (a local checkout) instead of
    the book's repository; nothing else changes."""
    copy = json.loads(json.dumps(notebook))
    first = next(c for c in copy["cells"] if c["cell_type"] == "code")
    text = "".join(first["source"])
    if len(INSTALL.findall(text)) != 1:
        raise SystemExit("the chapter's first code cell does not install `casestudies @ git+...` exactly once")
    first["source"] = INSTALL.sub(f'"casestudies @ {source.resolve().as_uri()}"', text)
    return copy


def colab_check(notebook: Path) -> None:
    """Run one chapter at `smoke` scale the way Colab starts it: a fresh environment holding only torch and
    Jupyter, `google.colab` importable, and the chapter's own first cell installing the package (from this
    checkout rather than the repository, so what is tested is what is here)."""
    env_dir, stub = COLAB_DIR / "venv", COLAB_DIR / "stub"
    shutil.rmtree(COLAB_DIR, ignore_errors=True)
    print(f"creating a fresh environment in {relative(env_dir)}", flush=True)
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    install_torch(py)
    sh(py, "-m", "pip", "install", "-q", "ipykernel", "papermill")
    (stub / "google" / "colab").mkdir(parents=True)
    (stub / "google" / "__init__.py").write_text("")
    (stub / "google" / "colab" / "__init__.py").write_text('"""Stands in for Colab\'s module."""\n')
    (stub / "sitecustomize.py").write_text("import google.colab  # imported at start-up, as in a Colab kernel\n")
    copy = COLAB_DIR / notebook.name
    copy.write_text(json.dumps(colab_copy(json.loads(notebook.read_text(encoding="utf-8")), ROOT)), encoding="utf-8")
    env = {"PYTHONPATH": str(stub), "CASESTUDIES_SCALE": "smoke", "CASESTUDIES_RESULTS_DIR": str(COLAB_DIR / "results")}
    sh(py, "-m", "papermill", "--cwd", str(notebook.parent), str(copy), str(copy), env=env)
    print(f"{notebook.name} ran from a fresh environment through its own install cell: {relative(copy)}", flush=True)


def relative(path: Path) -> Path:
    """`path` relative to the checkout when it is inside it, else as it is."""
    try:
        return path.resolve().relative_to(ROOT)
    except ValueError:
        return path


def executed_copy(notebook: Path, folder: Path) -> Path:
    """Where an executed copy of `notebook` goes under `folder`: the same path as in the checkout."""
    return folder / relative(notebook)


def normalised_scale(scale: str | None) -> str | None:
    """The preset name `scale` means, by the package's own rule (`" Smoke"` is `smoke`); None stays None. Stops
    with the valid names before anything runs."""
    if scale is None:
        return None
    sys.path.insert(0, str(SRC))  # casestudies.scale needs nothing but the standard library
    try:
        from casestudies.scale import scale_name

        return scale_name(scale)
    except ValueError as error:
        sys.exit(str(error))
    finally:
        sys.path.pop(0)


def writable(folder: Path) -> str | None:
    """Why `folder` cannot receive files (a file in its place, or no write permission), or None when it can."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None:
        return None
    if not existing.is_dir():
        return f"{relative(existing)} is a file where a folder should be"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{relative(existing)} is not writable"
    return None


def clean_stale_runs() -> None:
    """Remove the working copies of runs whose process is gone (a killed or interrupted run)."""
    if not EXECUTING_DIR.is_dir():
        return
    for folder in EXECUTING_DIR.iterdir():
        pid = int(folder.name) if folder.name.isdigit() else None
        alive = pid is not None and Path(f"/proc/{pid}").exists() if Path("/proc").is_dir() else True
        if not alive:
            shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)


def execute(notebook: Path, scale: str | None, seeds: list[int] | None = None, out: Path | None = None) -> bool:
    """Re-execute one notebook at `scale` (None: the notebook's own default) with papermill (parameters cell,
    outputs kept, working directory the notebook's own folder) into a temporary file, store its text outputs
    as a reader's screen shows them, and only then put it in place, with the results file it wrote. Returns
    whether every cell succeeded.

    Where it goes is decided by the scale the run *reports* (its results file), not by the name passed: a
    `cpu` or `gpu` run on the chapter's own seeds replaces the committed notebook and results file; a `smoke`
    run goes to `_build/smoke/` and `results/smoke/`. With `seeds`, `out` or `$CASESTUDIES_RESULTS_DIR`, the
    executed copy and its results go to `out` (default: the results folder named), never over the published
    chapter. Every destination is checked before the kernel starts; a finished run that still cannot be moved
    into place is kept under `_build/finished/`, a failed one under `_build/failed/`, and Ctrl-C stops the run
    with nothing changed.
    """
    scale = normalised_scale(scale)
    named = os.environ.get("CASESTUDIES_RESULTS_DIR")
    if out is None and named:
        out = Path(named)
    is_chapter = notebook in chapters()
    guess = "smoke" if scale == "smoke" else "cpu"
    destinations = [EXECUTING_DIR, FAILED_DIR, FINISHED_DIR] + (
        [out]
        if out
        else [
            ROOT / "results" / ("smoke" if guess == "smoke" else ""),
            SMOKE_DIR if guess == "smoke" else notebook.parent,
        ]
    )
    problems = [f"{relative(d)}: {why}" for d in destinations if (why := writable(d))]
    if problems:
        print("nothing was run: " + "; ".join(problems), flush=True)
        return False
    clean_stale_runs()
    workdir = EXECUTING_DIR / str(os.getpid())
    workdir.mkdir(parents=True, exist_ok=True)
    temporary = workdir / notebook.name
    temporary.touch()
    shutil.copymode(notebook, temporary)  # the result gets the notebook's mode
    staged = workdir / "results"
    staged.mkdir()
    env = {**os.environ, "CASESTUDIES_RESULTS_DIR": str(staged if is_chapter else out or ROOT / "results")}
    if scale:
        env["CASESTUDIES_SCALE"] = scale
    command = [python(), "-m", "papermill", "--cwd", str(notebook.parent), "--execution-timeout", "3600"]
    if seeds is not None:
        command += ["-y", f"SEEDS: {json.dumps(seeds)}"]
    command += [str(notebook), str(temporary)]
    try:
        print("+", " ".join(command), flush=True)
        result = subprocess.run(command, cwd=ROOT, env=env)
        if result.returncode:
            failed = executed_copy(notebook, FAILED_DIR)
            kept = temporary.stat().st_size > 0  # papermill saves as it goes; nothing if it never started
            if kept:
                failed.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temporary, failed)
            print(
                f"FAILED: {relative(notebook)} at scale {scale or 'default'} (papermill exit code "
                f"{result.returncode}); {relative(notebook)} and its results file are unchanged"
                + (f"; the failed run is at {relative(failed)}" if kept else "; papermill wrote no output"),
                flush=True,
            )
            return False
        settle_streams(temporary)
        written = sorted(staged.rglob("*.json"))
        ran_at = {json.loads(w.read_text()).get("scale") for w in written} or {scale or "cpu"}
        smoke = "smoke" in ran_at
        if out is not None:
            target, results = out / notebook.name, out
        elif smoke:
            target, results = executed_copy(notebook, SMOKE_DIR), ROOT / "results" / "smoke"
        else:
            target, results = notebook, ROOT / "results"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            results.mkdir(parents=True, exist_ok=True)
            for path in written:  # a run on custom seeds writes into a subfolder, kept as such
                destination = results / path.relative_to(staged)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)
            os.replace(temporary, target)
        except OSError as error:
            kept = FINISHED_DIR / f"{notebook.stem}-{os.getpid()}"
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(workdir), kept)
            print(f"the run finished but could not be put in place ({error}); it is kept at {relative(kept)}")
            return False
    except KeyboardInterrupt:
        print(f"interrupted: {relative(notebook)} and its results file are unchanged", flush=True)
        return False
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if target != notebook:
        print(f"executed ({', '.join(sorted(ran_at))}): {relative(target)} ({relative(notebook)} keeps its outputs)")
    elif is_chapter:
        write_glances()
    return True


MACHINE_PATH = re.compile(r"(?<![\w.:/])/(?:home|root|Users|tmp|work|opt|usr|private|var)/[^\s\"'<>]*")


def without_machine_paths(text: str) -> str:
    """`text` with this checkout's absolute path made relative (`/…/repo/src/x.py` -> `src/x.py`) and any other
    absolute path in it cut to its last two parts, so no output shows the machine that ran it."""
    text = text.replace(f"{ROOT}/", "")
    return MACHINE_PATH.sub(lambda m: "…/" + "/".join(m.group(0).rstrip("/").split("/")[-2:]), text)


def settle_streams(notebook: Path) -> None:
    """Merge consecutive stream outputs, keep, on each line, only what follows its last carriage return, and
    take machine paths out (`without_machine_paths`).

    Progress bars redraw a line with a carriage return; Jupyter shows the final state, but the stored
    output keeps every redraw, which the book would print line after line. A warning names the file it came
    from by its absolute path, which says nothing to a reader and shows the machine that ran the chapter.
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
                lines = without_machine_paths("".join(out["text"])).split("\n")
                out["text"] = "\n".join(
                    next((part for part in reversed(line.split("\r")) if part.strip()), "") for line in lines
                )
        if "outputs" in cell:
            cell["outputs"] = merged
    notebook.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def chapters() -> list[Path]:
    """The chapter notebooks, in order."""
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def student_config(config: str) -> str:
    """The book's `_config.yml` text with sphinx-exercise's `hide_solutions` switched on and the pages' sources
    left out of the site."""
    anchor = "\nsphinx:\n"
    start = config.find(anchor)
    at = config.find("\n  config:\n", start)
    if start < 0 or at < 0:
        raise SystemExit("_config.yml has no `sphinx: config:` section to switch solutions off in")
    at += len("\n  config:\n")
    # The pages' sources (`_sources/`, which the download button serves) would carry the solutions: they are not
    # copied, and the button goes; `recursive_update` merges that one theme option into the book's own.
    student = "    hide_solutions: true\n    html_copy_source: false\n    html_theme_options:\n"
    student += "      use_download_button: false\n"
    head = config[: start + len(anchor)] + "  recursive_update: true\n" + config[start + len(anchor) : at]
    return head + student + config[at:]


def check_site(html: Path, solutions: bool) -> None:
    """Check a built site: every page that shows math loads MathJax from the site itself (so formulas render
    without a network), and the exercises' solutions are there or, in the student site, absent."""
    pages = sorted(html.rglob("*.html"))
    if not pages:
        raise SystemExit(f"no pages in {relative(html)}")
    problems = []
    solved = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        mathjax = re.findall(r'<script[^>]*\ssrc="([^"]*mathjax[^"]*)"', text, flags=re.IGNORECASE)
        remote = [src for src in mathjax if "://" in src or src.startswith("//")]
        if remote or ('class="math' in text and not any(src.endswith("mathjax/tex-chtml.js") for src in mathjax)):
            problems.append(f"{relative(page)} does not load MathJax from the site ({remote or 'no script'})")
        solved += text.count('class="solution')
    solved += sum(
        "{solution}" in source.read_text(encoding="utf-8", errors="replace")
        for source in html.glob("_sources/**/*")
        if source.is_file()
    )
    if not (html / "_static" / "mathjax" / "tex-chtml.js").is_file():
        problems.append(f"{relative(html)}/_static/mathjax/tex-chtml.js is missing")
    if solutions and not solved:
        problems.append("no exercise solution in the site")
    if not solutions and solved:
        problems.append(f"{solved} exercise solution(s) in the student site")
    problems += [problem for page in pages for problem in output_problems(page)]
    if problems:
        raise SystemExit("the site fails its checks:\n  " + "\n  ".join(problems))


def output_problems(page: Path) -> list[str]:
    """What a page's outputs show that a reader should not see: a data frame pandas cut short ("… rows × …"), or
    a path on the machine that built it."""
    text = page.read_text(encoding="utf-8")
    problems = [f"{relative(page)}: a truncated table ({m})" for m in re.findall(r"\d+ rows × \d+ columns", text)]
    paths = {m.group(0) for m in MACHINE_PATH.finditer(re.sub(r"<[^>]+>", " ", text))}
    problems += [f"{relative(page)}: a machine path in the page ({p})" for p in sorted(paths)[:3]]
    return problems


BROWSERS = ("chromium", "chromium-browser", "google-chrome")  # Debian's package installs /usr/bin/chromium
BROWSE_DIR = BUILD / "browser"  # screenshots of two chapters, for a person to look at
SKIPPED_LINKS = ("http://", "https://", "mailto:", "javascript:", "data:", "#")
REDIRECT = re.compile(r"<meta[^>]+http-equiv=\"refresh\"", re.IGNORECASE)  # index.html only forwards to the intro


def find_browser() -> str:
    """The first Chromium-family browser on the PATH, or a clear message saying how to get one."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit(
        "no headless browser found (looked for " + ", ".join(BROWSERS) + "): install Debian's `chromium` "
        "package (apt-get install chromium) or Google Chrome, then run `python dev.py browse` again"
    )


def browser_args(browser: str, page: Path, *extra: str) -> list[str]:
    """Headless Chromium on one page with every network request sent to a closed port (so only what the site
    serves itself can load), given time for MathJax to typeset."""
    return [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--proxy-server=127.0.0.1:9", "--virtual-time-budget=15000", *extra, page.as_uri(),
    ]  # fmt: skip


def page_problems(dom: str, page: Path, chapter_page: bool) -> list[str]:
    """What is wrong with one page as the browser rendered it (`dom`, after scripts ran): formulas left as raw
    LaTeX, images or internal links pointing at files that are not in the site, and, on a chapter, no figure
    or no launch button."""
    problems = []
    name = page.name
    # code is shown as written (a regex in a cell may hold "\\("): only prose must have been typeset
    visible = re.sub(r"<(script|style|textarea|pre|code)\b.*?</\1>", " ", dom, flags=re.DOTALL | re.IGNORECASE)
    text = re.sub(r"<[^>]+>", " ", visible)
    raw = [marker for marker in ("\\(", "\\[") if marker in text]
    if raw:
        problems.append(f"{name}: raw LaTeX in the page ({', '.join(raw)}): MathJax did not typeset it")
    if 'class="math' in dom and "<mjx-container" not in dom:
        problems.append(f"{name}: formulas are marked up but none was typeset")
    images = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", dom, flags=re.IGNORECASE)
    for src in images:
        if not src.startswith(SKIPPED_LINKS) and not (page.parent / src.split("#")[0]).is_file():
            problems.append(f"{name}: image {src} is missing")
    links = re.findall(r"<a\b[^>]*\bhref=\"([^\"]+)\"", dom, flags=re.IGNORECASE)
    for href in links:
        target = href.split("#")[0].split("?")[0]
        if target and not href.startswith(SKIPPED_LINKS) and not (page.parent / target).exists():
            problems.append(f"{name}: link to {href} is broken")
    if chapter_page:
        if not any("_images/" in src for src in images):
            problems.append(f"{name}: no figure")
        if "colab.research.google.com" not in dom:
            problems.append(f"{name}: no launch button for Colab")
    return problems


def browse(html: Path) -> None:
    """Open every page of a built site in headless Chromium with the network cut off, check it (`page_problems`),
    and save screenshots of the first and the last chapter to `_build/browser/`."""
    if not (html / "index.html").is_file():
        student = " --student" if STUDENT_DIR in html.parents else ""
        raise SystemExit(f"no site at {relative(html)}: build it first with `python dev.py book{student}`")
    browser = find_browser()
    pages = [
        p
        for p in sorted(html.rglob("*.html"))
        if not p.relative_to(html).parts[0].startswith("_") and not REDIRECT.search(p.read_text(encoding="utf-8"))
    ]
    chapter_pages = {html / "notebooks" / f"{notebook.stem}.html" for notebook in chapters()}
    problems = []
    for page in pages:
        result = subprocess.run(
            browser_args(browser, page, "--dump-dom"), capture_output=True, text=True, timeout=180, check=False
        )
        if result.returncode or not result.stdout.strip():
            problems.append(f"{page.name}: the browser could not render it ({result.stderr.strip()[-200:]})")
            continue
        problems += page_problems(result.stdout, page, chapter_page=page in chapter_pages)
    missing = chapter_pages - set(pages)
    problems += [f"{relative(page)}: a chapter with no page in the site" for page in sorted(missing)]
    BROWSE_DIR.mkdir(parents=True, exist_ok=True)
    shown = sorted(chapter_pages & set(pages))
    for page in shown[:1] + shown[-1:]:
        shot = BROWSE_DIR / f"{page.stem}.png"
        subprocess.run(
            browser_args(browser, page, f"--screenshot={shot}", "--window-size=1280,2400"),
            capture_output=True, timeout=180, check=False,
        )  # fmt: skip
    if problems:
        raise SystemExit(f"{len(problems)} problem(s) in {relative(html)}:\n  " + "\n  ".join(problems))
    print(
        f"{len(pages)} pages rendered offline with their math, figures, links and launch buttons; "
        f"screenshots in {relative(BROWSE_DIR)}"
    )


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


def seed_range(text: str) -> list[int]:
    """Seeds from `30-35`, `30,31,32` or `[30, 31]`, each checked by the package's rule; stop with its message."""
    sys.path.insert(0, str(SRC))
    try:
        from casestudies.scale import parse_seeds, validate_seed

        if re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", text):
            low, high = (validate_seed(p) for p in text.split("-"))
            if high < low:
                raise ValueError(f"a seed range runs upwards, got {text!r}")
            return list(range(low, high + 1))
        seeds = parse_seeds(text)
        if len(set(seeds)) != len(seeds) or not seeds:
            raise ValueError(f"seeds must be distinct and at least one, got {text!r}")
        return seeds
    except ValueError as error:
        sys.exit(str(error))
    finally:
        sys.path.pop(0)


def comparison_rows(published: list[dict], replicated: list[dict]) -> list[str]:
    """One line per hypothesis either run declares (the published ones first): its role, and each run's outcome
    and estimate, "not declared" where a run lacks it."""
    stored, mine = {h["name"]: h for h in published}, {h["name"]: h for h in replicated}
    names = [*stored, *(n for n in mine if n not in stored)]

    def shown(x: dict | None) -> str:
        return "undefined" if x is None or x.get("estimate") is None else f"{x['estimate']:+.3f}"

    rows = []
    for name in names:
        h, r = stored.get(name), mine.get(name)
        role = (h or r)["role"]
        rows.append(
            f"{name:4} {role:10} {(h or {}).get('outcome', 'not declared'):>14} {shown(h):>9}  "
            f"{(r or {}).get('outcome', 'not declared'):>14} {shown(r):>9}"
        )
    return rows


def replicate(notebook: Path, seeds: list[int], scale: str) -> None:
    """Re-run a chapter on `seeds` into `_build/replications/` (never over the published chapter) and print, per
    hypothesis, the published outcome and estimate beside the replication's."""
    published = json.loads((ROOT / "results" / f"{notebook.stem}.json").read_text())
    overlap = sorted(set(seeds) & set(published.get("design_seeds", [])) | set(seeds) & set(published["seeds"]))
    if overlap:
        print(f"note: seeds {overlap} were used by the published or design runs; a replication uses fresh ones")
    out = REPLICATIONS_DIR / f"{notebook.stem}-seeds-{seeds[0]}-{seeds[-1]}"
    if not execute(notebook, scale, seeds=seeds, out=out):
        sys.exit(1)
    written = sorted(out.rglob(f"{notebook.stem}.json"))
    if not written:
        sys.exit(f"the run wrote no results file under {relative(out)}")
    print(
        f"\n{notebook.stem}: published ({published['scale']}, seeds {published['seeds']}) against this replication "
        f"({scale}, seeds {seeds}); results in {relative(written[0])}"
    )
    print(f"{'':4} {'role':10} {'published':>14} {'estimate':>9}  {'replication':>14} {'estimate':>9}")
    for row in comparison_rows(published["hypotheses"], json.loads(written[0].read_text())["hypotheses"]):
        print(row)
    print(f"verdict: published {published['verdict']}, replication {json.loads(written[0].read_text())['verdict']}")


GLANCE_DIR = ROOT / "book" / "_generated"  # each chapter's "at a glance" box and the home page's verdict table


def glance_texts() -> dict[Path, str]:
    """What `book/_generated/` should hold, from the committed results files and `book/leaks.yml`: one "at a
    glance" box per chapter (included under its title) and the home page's verdict table. Runs in `.venv`."""
    import yaml

    from casestudies.glance import glance, not_run, page_title, verdict_table

    leaks = yaml.safe_load((ROOT / "book" / "leaks.yml").read_text(encoding="utf-8"))
    files = [ROOT / "results" / f"{p.stem}.json" for p in chapters()]
    records = [json.loads(f.read_text()) for f in files if f.exists()]
    texts = {GLANCE_DIR / f"{f.stem}.md": not_run() for f in files}  # a new chapter, before its first run
    texts |= {GLANCE_DIR / f"{r['chapter']}.md": glance(r, leaks[r["chapter"]]["toy"]) for r in records}
    titles = {r["chapter"]: page_title(ROOT / "notebooks" / f"{r['chapter']}.ipynb") for r in records}
    links = {c: f"{{doc}}`{title} <../notebooks/{c}>`" for c, title in titles.items()}
    texts[GLANCE_DIR / "verdicts.md"] = verdict_table(records, links)
    return texts


def write_glances() -> None:
    """Rewrite `book/_generated/` from the results files, so the verdicts the pages open with are the files'."""
    GLANCE_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in glance_texts().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {relative(path)}")


def build_book(student: bool = False) -> None:
    """Build the site from the committed outputs, warnings as errors, and check it (`check_site`). With
    `student`, the exercises' solutions are left out and the site goes to `_build/student/`."""
    write_glances()
    jupyter_book = str(Path(python()).with_name("jupyter-book"))  # the package has no `python -m` entry point
    if not student:
        sh(jupyter_book, "build", ".", "-W", "--keep-going")
        check_site(BOOK_HTML.parent, solutions=True)
        print(f"\nThe book is at {BOOK_HTML}")
        return
    STUDENT_DIR.mkdir(parents=True, exist_ok=True)
    config = STUDENT_DIR / "_config.yml"
    config.write_text(student_config((ROOT / "_config.yml").read_text(encoding="utf-8")), encoding="utf-8")
    sh(jupyter_book, "build", ".", "-W", "--keep-going", "--config", str(config), "--path-output", str(STUDENT_DIR))
    html = STUDENT_DIR / "_build" / "html"
    check_site(html, solutions=False)
    print(f"\nThe student book (no solutions) is at {html / 'index.html'}")


def test(fast: bool = False) -> None:
    """The whole suite: ruff, unit tests, every notebook at smoke scale and every chapter's `gpu` path as a dry run
    (see `casestudies.scale.dry`) under nbval, the book build. With `fast`,
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
        "notebooks",
        *map(str, BOOK_PAGES),
    )
    if fast:
        sh(py, "-m", "pytest", "tests", "-m", "not slow")
        return
    sh(py, "-m", "pytest", "tests")
    with tempfile.TemporaryDirectory(prefix="casestudies-results-") as results:
        notebooks = [str(p) for p in [*chapters(), TEMPLATE, *BOOK_PAGES]]
        nbval = (py, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider")
        sh(*nbval, *notebooks, env={"CASESTUDIES_SCALE": "smoke", "CASESTUDIES_RESULTS_DIR": results})
        dry = {"CASESTUDIES_SCALE": "gpu", "CASESTUDIES_DRY": "1", "CASESTUDIES_RESULTS_DIR": f"{results}/dry"}
        sh(*nbval, *map(str, chapters()), env=dry)  # every line a GPU reader runs, on CPU with smoke budgets
    build_book()
    build_book(student=True)


def execute_book(scale: str) -> None:
    """Re-execute every chapter at `scale`, then the pages computed from their results (the scorecard, the
    status page) if they all succeeded; stop with a list of the failed ones otherwise (each chapter is tried
    even when an earlier one failed)."""
    failed = [notebook for notebook in chapters() if not execute(notebook, scale)]
    if not failed:
        failed = [page for page in BOOK_PAGES if not execute(page, scale)]
    if failed:
        sys.exit(f"failed at scale {scale}: {', '.join(str(relative(p)) for p in failed)}; see {relative(FAILED_DIR)}")
    if scale == "smoke":
        print(
            f"every notebook ran at smoke scale (copies in {relative(SMOKE_DIR)}); the site is built from the "
            "committed outputs, which smoke runs never replace",
            flush=True,
        )


def _balanced_call(text: str, start: int) -> str:
    """The call that starts at `start` (`name(`), up to its matching closing parenthesis."""
    depth = 0
    for end in range(text.index("(", start), len(text)):
        depth += {"(": 1, ")": -1}.get(text[end], 0)
        if depth == 0:
            return text[start : end + 1]
    raise ValueError(f"unbalanced call in {text[start : start + 80]!r}")


def _first_code_block(markdown: str) -> list[str]:
    """The first indented (4-space) code block of a piece of markdown, dedented, blank lines kept inside."""
    lines, inside = [], False
    for line in markdown.splitlines():
        if line.startswith("    ") or (inside and not line.strip()):
            inside = True
            lines.append(line[4:])
        elif inside:
            break
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def code_exercise(notebook: Path) -> dict | None:
    """A chapter's auto-checked code exercise, read from its markdown: its label, its prompt, the reference
    solution (the solution's first code block, up to the check) and the `casestudies.exercises` check that
    grades it, with the name of the function it checks; None when the chapter has none."""
    cells = json.loads(notebook.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for match in re.finditer(r"```\{exercise\}\n:label: (\S+)\n(.*?)\n```", text, re.S):
        label, prompt = match.group(1), match.group(2).strip()
        solution = re.search(r"```\{solution\} " + re.escape(label) + r"\n(.*?)\n```", text, re.S)
        found = re.search(r"check_\w+\(", prompt + "\n" + (solution.group(1) if solution else ""))
        if not solution or not found:
            continue
        check = _balanced_call(found.string, found.start())
        code = []
        for line in _first_code_block(solution.group(1)):
            if "check_" in line and "import" not in line:
                break
            if not line.startswith("from casestudies.exercises import"):
                code.append(line)
        function = re.match(r"check_\w+\((\w+)", check)
        return {
            "label": label,
            "prompt": prompt,
            "solution": "\n".join(code).strip(),
            "check": check,
            "helper": check.split("(")[0],
            "function": function.group(1) if function else None,
        }
    return None


def _with_solution_markers(code: str) -> str:
    """The reference code with the body of its one function, which ends it, between Otter's solution markers:
    the student's copy keeps the imports and the signature, and `...` for the body."""
    if code.count("def ") != 1:
        raise ValueError(f"a code exercise's solution should define one function, got:\n{code}")
    head, _, body = code.partition("\n    ")
    return f"{head}\n    # BEGIN SOLUTION\n    {body}\n    # END SOLUTION"


def assignment_master(notebook: Path, exercise: dict) -> dict:
    """An Otter-Grader master notebook for a chapter's code exercise: the prompt, the reference solution between
    solution markers, and a hidden test that runs the chapter's own check (so the grade and its message are the
    book's)."""
    import nbformat

    v4 = nbformat.v4
    name = re.sub(r"\W", "_", exercise["label"])
    cells = [
        v4.new_raw_cell(
            f"# ASSIGNMENT CONFIG\nname: {notebook.stem}\nexport_cell: false\ninit_cell: false\ncheck_all_cell: false\n"
            "requirements: requirements.txt\n"
        ),
        v4.new_markdown_cell(
            f"# {notebook.stem}: the chapter's code exercise\n\nThe exercise comes from the "
            f"chapter `{notebook.name}`. The first code cell installs the book's package and Otter where they "
            "are missing. Write your answer in the cell below the question; `grader.check` under it runs the "
            "chapter's own check on your function, the same test the autograder scores."
        ),
        v4.new_code_cell(
            "import importlib.util, subprocess, sys\n"
            f'for module, spec in [("otter", "otter-grader==7.0.0"), ("casestudies", "{install_spec()}")]:\n'
            "    if importlib.util.find_spec(module) is None:  # a fresh environment, Colab say: install it\n"
            '        subprocess.run([sys.executable, "-m", "pip", "install", "-q", spec], check=True)\n\n'
            "import math\n\nimport numpy as np\nimport otter\n"
            f"from casestudies.exercises import {exercise['helper']}\n\n"
            f'grader = otter.Notebook("{notebook.stem}.ipynb")  # runs the public test: `grader.check(...)` below'
        ),
        v4.new_raw_cell(f"# BEGIN QUESTION\nname: {name}\npoints: 1"),
        v4.new_markdown_cell(exercise["prompt"]),
        v4.new_raw_cell("# BEGIN SOLUTION"),
        v4.new_code_cell(_with_solution_markers(exercise["solution"])),
        v4.new_raw_cell("# END SOLUTION"),
        v4.new_raw_cell("# BEGIN TESTS"),
        v4.new_code_cell(
            f'""" # BEGIN TEST CONFIG\nhidden: false\n""" # END TEST CONFIG\n'
            f"from casestudies.exercises import {exercise['helper']}\n"
            f"report = {exercise['check']}"
        ),
        v4.new_raw_cell("# END TESTS"),
        v4.new_raw_cell("# END QUESTION"),
    ]
    master = v4.new_notebook(cells=cells)
    master.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return master


def autograder_requirements() -> str:
    """What an autograder installs besides Otter (Gradescope builds its image from it): CPU torch and this
    book's package at the pinned release, so the chapter's check is there to grade with."""
    return f"--extra-index-url {TORCH_CPU_INDEX}\n{TORCH_CPU}\n{install_spec()}\n"


def build_assignments(out: Path = ASSIGNMENTS_DIR, only: list[Path] | None = None) -> dict[str, Path]:
    """Every chapter's code exercise (or `only` those chapters') as an Otter-Grader assignment under
    `out/<chapter>/`: `student/` (the notebook to hand out, solution stripped) and `autograder/` (the zip for
    `otter run` or Gradescope, and the reference notebook). Otter Assign grades the reference solution as it
    builds, so a broken one stops here."""
    import nbformat

    built = {}
    for notebook in only or chapters():
        exercise = code_exercise(notebook)
        if exercise is None:
            raise SystemExit(f"{relative(notebook)} has no auto-checked code exercise to turn into an assignment")
        folder = out / notebook.stem
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        master = folder / f"{notebook.stem}.ipynb"
        nbformat.write(assignment_master(notebook, exercise), master)
        (folder / "requirements.txt").write_text(autograder_requirements(), encoding="utf-8")
        sh(python(), "-m", "otter", "assign", "--no-pdfs", master.name, "dist", cwd=folder)
        built[notebook.stem] = folder / "dist"
    print(f"\nThe assignments are under {relative(out)}/<chapter>/dist/ (student/ and autograder/)")
    return built


def grade_class(notebook: Path, submissions: Path) -> Path:
    """Grade every notebook in `submissions` with the chapter's autograder under `otter run`, one after another
    on this machine, and write `submissions/grades.csv` (submission, score, out of, the check's message)."""
    import csv

    dist = build_assignments(ASSIGNMENTS_DIR, only=[notebook])[notebook.stem]
    autograder = next((dist / "autograder").glob("*.zip"))
    handed_in = sorted(p for p in submissions.glob("*.ipynb") if not p.name.startswith("."))
    if not handed_in:
        sys.exit(f"no submitted notebooks (*.ipynb) in {submissions}")
    rows = []
    for submission in handed_in:
        with tempfile.TemporaryDirectory(prefix="casestudies-grade-") as out:
            command = [python(), "-m", "otter", "run", "--no-logo", "-a", str(autograder), "-o", out]
            ran = subprocess.run([*command, str(submission)], capture_output=True, text=True)
            report = Path(out) / "results.json"
            if ran.returncode or not report.exists():
                rows.append([submission.name, 0, "", f"could not be graded: {ran.stderr.strip()[-300:]}"])
                continue
            tests = [t for t in json.loads(report.read_text())["tests"] if t.get("max_score") is not None]
            message = " | ".join(t["output"].strip().splitlines()[-1] for t in tests if t["output"].strip())
            rows.append([submission.name, sum(t["score"] for t in tests), sum(t["max_score"] for t in tests), message])
        print(f"{submission.name}: {rows[-1][1]} / {rows[-1][2]}", flush=True)
    table = submissions / "grades.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["submission", "score", "out of", "message"], *rows])
    print(f"\nThe grades are in {table}")
    return table


TEMPLATE = ROOT / "templates" / "chapter.ipynb"  # `dev.py new` copies it; CI runs it at smoke, so it cannot rot


def new_chapter(number: str, short: str, title: str) -> Path:
    """A new chapter from the template: `notebooks/NN-short.ipynb` with the standard's sections, the parameters
    cell, hypotheses with roles and sesoi, `map_arms`, the verdict and provenance; and stubs where the book lists
    its chapters (table of contents, intro, leak table), a module for its measurements and a test file."""
    if not re.fullmatch(r"\d{2}", number or ""):
        sys.exit(f"the chapter number is two digits, e.g. 13; got {number!r}")
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", short or ""):
        sys.exit(f"the short name is lower-case words joined by hyphens, e.g. reward-hacking; got {short!r}")
    if not title or not title.strip():
        sys.exit('give the chapter a title, e.g. "Rewards that can be hacked"')
    taken = [p for p in chapters() if p.name.startswith(f"{number}-")]
    if taken:
        sys.exit(f"chapter {number} exists: {relative(taken[0])}")
    stem, module = f"{number}-{short}", short.replace("-", "_")
    text = TEMPLATE.read_text(encoding="utf-8")
    for old, new in [
        ("00-template-chapter", stem),
        ("Template chapter", title.strip()),
        ("# 0. ", f"# {int(number)}. "),
        ("ex-00-", f"ex-{number}-"),
    ]:
        text = text.replace(old, new)
    notebook = ROOT / "notebooks" / f"{stem}.ipynb"
    notebook.write_text(text, encoding="utf-8")
    toc = ROOT / "_toc.yml"
    lines = toc.read_text(encoding="utf-8").splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if "file: notebooks/" in line)
    lines.insert(last + 1, lines[last].split("file:")[0] + f"file: notebooks/{stem}\n")
    toc.write_text("".join(lines), encoding="utf-8")
    intro = ROOT / "book" / "intro.md"
    entries = intro.read_text(encoding="utf-8")
    last_entry = list(re.finditer(r"^- Chapter \d+, \{doc\}`[^`]+`:.*?(?=\n\n|\n- |\Z)", entries, re.M | re.S))[-1]
    entry = f"\n- Chapter {int(number)}, {{doc}}`../notebooks/{stem}`: TODO, the finding and its verdict in a sentence."
    intro.write_text(entries[: last_entry.end()] + entry + entries[last_entry.end() :], encoding="utf-8")
    leaks = ROOT / "book" / "leaks.yml"
    leaks.write_text(
        leaks.read_text(encoding="utf-8").rstrip("\n")
        + f"\n{stem}:\n  objective: TODO\n  toy: TODO\n  dimension: TODO\n  leak: H1\n  fix: none tested\n"
        "  fix_test: null\n  note: TODO\n",
        encoding="utf-8",
    )
    (ROOT / "src" / "casestudies" / "chapters" / f"{module}.py").write_text(
        f'"""Chapter {int(number)}\'s measurements: what turns its trained models into the numbers it tests."""\n',
        encoding="utf-8",
    )
    (ROOT / "tests" / f"test_{module}.py").write_text(
        f'"""Chapter {int(number)}\'s measurements on hand-worked cases."""\n\nimport pytest\n\n\n'
        "def test_the_chapters_measurements_are_tested():\n"
        f'    pytest.fail("write the tests of casestudies.chapters.{module} on hand-worked cases")\n',
        encoding="utf-8",
    )
    print(
        f"{relative(notebook)} created from {relative(TEMPLATE)}, with stubs in _toc.yml, book/intro.md, "
        "book/leaks.yml, "
        f"src/casestudies/chapters/{module}.py and tests/test_{module}.py; then run it at smoke "
        f"(`python dev.py run {number} --scale smoke`), write its tests, and time it (`benchmarks/chapters.py`)"
    )
    return notebook


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
        for page in [*chapters(), *BOOK_PAGES]:
            settle_streams(page)
        return
    if args.command == "colab":  # its own fresh environment, never .venv
        colab_check(notebook)
        return
    if args.command == "browse":  # reads a site already built; needs a browser, not the environment
        browse(STUDENT_DIR / "_build" / "html" if args.student else BOOK_HTML.parent)
        return
    if args.command == "replicate":
        if not args.seeds:
            parser.error("`replicate` needs --seeds, e.g. --seeds 30-35")
        seeds = seed_range(args.seeds)
    scale = normalised_scale(args.scale or os.environ.get("CASESTUDIES_SCALE"))
    if os.environ.get(RELAUNCHED) != str(ROOT):
        setup()
        if not in_environment() and not same_path(sys.prefix, VENV):  # go on in .venv, where the packages are
            os.execve(python(), [python(), str(ROOT / "dev.py"), *sys.argv[1:]], {**os.environ, RELAUNCHED: str(ROOT)})
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
