"""Re-executing notebooks with papermill, each put in place only when every cell ran, and settling their stored
outputs. Standard library only at import: `dev.py settle` runs before any set-up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from devtools import paths
from devtools.environment import python
from devtools.paths import chapters, relative, without_machine_paths
from devtools.site import write_glances

# Seconds one cell may run under papermill before the run fails: a gpu-scale training cell takes minutes, and a
# cell that hangs (a stuck download, a deadlocked worker) then ends the run instead of holding the machine.
CELL_TIMEOUT = 3600


def executed_copy(notebook: Path, folder: Path) -> Path:
    """Where an executed copy of `notebook` goes under `folder`: the same path as in the checkout."""
    return folder / relative(notebook)


def normalised_scale(scale: str | None) -> str | None:
    """The preset name `scale` means, by the package's own rule (`" Smoke"` is `smoke`); None stays None. Stops
    with the valid names before anything runs."""
    if scale is None:
        return None
    sys.path.insert(0, str(paths.SRC))  # casestudies.scale needs nothing but the standard library
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
    if not paths.EXECUTING_DIR.is_dir():
        return
    for folder in paths.EXECUTING_DIR.iterdir():
        pid = int(folder.name) if folder.name.isdigit() else None
        alive = pid is not None and Path(f"/proc/{pid}").exists() if Path("/proc").is_dir() else True
        if not alive:
            shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)


def execute(notebook: Path, scale: str | None, seeds: list[int] | None = None, out: Path | None = None) -> bool:
    """Re-execute one notebook at `scale` (None: the notebook's own default) with papermill (parameters cell,
    outputs kept, working directory the notebook's own folder, each cell stopped after `CELL_TIMEOUT` seconds)
    into a temporary file, store its text outputs as a reader's screen shows them, and only then put it in place,
    with the results file it wrote. Returns whether every cell succeeded (a cell that timed out did not).

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
    destinations = [paths.EXECUTING_DIR, paths.FAILED_DIR, paths.FINISHED_DIR] + (
        [out]
        if out
        else [
            paths.ROOT / "results" / ("smoke" if guess == "smoke" else ""),
            paths.SMOKE_DIR if guess == "smoke" else notebook.parent,
        ]
    )
    problems = [f"{relative(d)}: {why}" for d in destinations if (why := writable(d))]
    if problems:
        print("nothing was run: " + "; ".join(problems), flush=True)
        return False
    clean_stale_runs()
    workdir = paths.EXECUTING_DIR / str(os.getpid())
    workdir.mkdir(parents=True, exist_ok=True)
    temporary = workdir / notebook.name
    temporary.touch()
    shutil.copymode(notebook, temporary)  # the result gets the notebook's mode
    staged = workdir / "results"
    staged.mkdir()
    env = {**os.environ, "CASESTUDIES_RESULTS_DIR": str(staged if is_chapter else out or paths.ROOT / "results")}
    if scale:
        env["CASESTUDIES_SCALE"] = scale
    command = [python(), "-m", "papermill", "--cwd", str(notebook.parent), "--execution-timeout", str(CELL_TIMEOUT)]
    if seeds is not None:
        command += ["-y", f"SEEDS: {json.dumps(seeds)}"]
    command += [str(notebook), str(temporary)]
    try:
        print("+", " ".join(command), flush=True)
        result = subprocess.run(command, cwd=paths.ROOT, env=env)
        if result.returncode:
            failed = executed_copy(notebook, paths.FAILED_DIR)
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
        if out is not None:
            target, results = out / notebook.name, out
        elif any(s == "smoke" or str(s).endswith("(dry run)") for s in ran_at):  # never published
            kind, copies = ("smoke", paths.SMOKE_DIR) if "smoke" in ran_at else ("dry", paths.DRY_DIR)
            target, results = executed_copy(notebook, copies), paths.ROOT / "results" / kind
        else:
            target, results = notebook, paths.ROOT / "results"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            results.mkdir(parents=True, exist_ok=True)
            for path in written:  # a run on custom seeds writes into a subfolder, kept as such
                destination = results / path.relative_to(staged)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)
            os.replace(temporary, target)
        except OSError as error:
            kept = paths.FINISHED_DIR / f"{notebook.stem}-{os.getpid()}"
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


def execute_book(scale: str) -> None:
    """Re-execute every chapter at `scale`, then the pages computed from their results (the scorecard, the
    status page) if they all succeeded; stop with a list of the failed ones otherwise (each chapter is tried
    even when an earlier one failed)."""
    failed = [notebook for notebook in chapters() if not execute(notebook, scale)]
    if not failed:
        failed = [page for page in paths.BOOK_PAGES if not execute(page, scale)]
    if failed:
        sys.exit(
            f"failed at scale {scale}: {', '.join(str(relative(p)) for p in failed)}; see {relative(paths.FAILED_DIR)}"
        )
    if scale == "smoke":
        print(
            f"every notebook ran at smoke scale (copies in {relative(paths.SMOKE_DIR)}); the site is built from the "
            "committed outputs, which smoke runs never replace",
            flush=True,
        )
