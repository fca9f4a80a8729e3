"""Each chapter's results file: written by the call that prints its verdict, read by the scorecard.

A run is a **confirmation** run when its seeds are disjoint from the chapter's design seeds (every seed used while
the design was chosen) and its scale is not `smoke`; any other run is a **design** run, shown as provisional.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pandas as pd

from casestudies.scale import Scale, validate_seed
from casestudies.tidy import ID_COLUMNS
from casestudies.verdict import CHECK, HEADLINE, INTERVAL, Hypothesis, Plan, Verdict, evaluate, plan_seeds

RESULTS_SCHEMA_VERSION = 3
RESULTS_DIR_VAR = "CASESTUDIES_RESULTS_DIR"
CONFIRMATION, DESIGN = "confirmation", "design"
DESIGN_DIR = "design"  # results/design/<chapter>.json: the design run a chapter's power plan is taken from

RESULTS_SCHEMA = """\
One JSON object per chapter, `results/<chapter>.json` (schema 3):
  schema_version   int, 3
  chapter          str, the notebook's stem, e.g. "01-binary-reward-calibration"
  title            str, the finding in a few words
  scale            str, "smoke" | "cpu" | "gpu" | "gpu (dry run)"
  seeds            list[int], the seeds of this run
  design_seeds     list[int], every seed used while the design was chosen (pilots included)
  run              str, "confirmation" (seeds disjoint from design_seeds, not smoke) | "design"
  plan             {hypothesis: {sd, n_design, sesoi, n, half_width, seeds_needed}}, the power plan printed
                   before the run, from the design run (empty without one)
  parameters       {name: value} of the chapter's parameters cell, as run
  git_commit       str | null, the checkout's commit, "-dirty" when src/ or pyproject.toml differed from it
  wall_time_s      float, the whole notebook run up to the verdict
  package_version  str, casestudies.__version__
  environment      {python, torch, transformers, trl, platform}
  interval         str, how the CIs were computed
  verdict          str, "reproduced" | "reversed" | "not reproduced" | "inconclusive" | "mixed" | "no verdict",
                   from the headline hypotheses only
  hypotheses       list of {name, claim, metric, arm, baseline, direction, margin, condition, role, sesoi, why,
                            estimate, ci_low, ci_high, n_seeds, n_agree, unpaired_seeds, outcome}
                   (unpaired_seeds: seeds left out because only one arm has a value there)
  results          list of {arm, seed, condition, metric, value}  (tidy: one row per measurement)
  note             str, optional: how the file was produced when not by a plain run (a rescoring, say)
Undefined numbers (NaN) are written as null.
"""


def book_results_dir() -> Path:
    """`results/` at the book's root (the folder above the working directory holding `_toc.yml`), else
    `./results`: where the published results files are."""
    cwd = Path.cwd()
    root = next((p for p in (cwd, *cwd.parents) if (p / "_toc.yml").is_file()), cwd)
    return root / "results"


def results_dir() -> Path:
    """Where results files go: `$CASESTUDIES_RESULTS_DIR`, else `book_results_dir()`."""
    if os.environ.get(RESULTS_DIR_VAR):
        return Path(os.environ[RESULTS_DIR_VAR])
    return book_results_dir()


def environment() -> dict:
    """Python, library versions and platform of this run (the results file and the provenance line)."""
    import torch
    import transformers
    import trl

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "platform": platform.platform(terse=True),
    }


def git_commit() -> str | None:
    """The commit of the checkout holding the working directory, `-dirty` when the package or its
    configuration (`src/`, `pyproject.toml`) differ from it; None outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", ":/src", ":/pyproject.toml"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if changed else commit or None


def run_kind(scale: str, seeds: Sequence[int], design_seeds: Sequence[int]) -> str:
    """`confirmation` for a `cpu` or `gpu` run on seeds no design run used, else `design` (smoke and dry runs
    included: they check that code runs, not a claim)."""
    return CONFIRMATION if scale in ("cpu", "gpu") and not set(seeds) & set(design_seeds) else DESIGN


def output_dir(scale: Scale, custom_seeds: bool, directory: str | Path | None = None) -> Path:
    """Where `conclude` writes: `directory`, else `results_dir()`, with a smoke run's file in its `smoke/`
    subfolder and a dry run's in `dry/` (unless `$CASESTUDIES_RESULTS_DIR` is set) and a run on seeds other than
    the chapter's own in `custom/`, so none replaces the results of the published run."""
    if directory is not None:
        return Path(directory)
    out = results_dir()
    if scale.wiring_check and not os.environ.get(RESULTS_DIR_VAR):
        out = out / scale.wiring_check
    return out / "custom" if custom_seeds else out


def check_writable(folder: Path) -> None:
    """Raise a clear error unless `folder` exists as a writable folder or can be created."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise NotADirectoryError(f"cannot write results under {folder}: {existing} is a file, not a folder")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write results under {folder}: {existing} is not writable")


def record_of(
    chapter: str,
    title: str,
    results: pd.DataFrame,
    verdict: Verdict,
    scale: Scale,
    wall_time_s: float,
    design_seeds: Sequence[int],
    parameters: dict | None = None,
    plan: dict[str, Plan] | None = None,
) -> dict:
    """The results file's content (see `RESULTS_SCHEMA`), checked to be writable as strict JSON."""
    from casestudies import __version__

    if not isinstance(wall_time_s, int | float) or not math.isfinite(wall_time_s):
        raise ValueError(f"wall_time_s must be a number of seconds, got {wall_time_s!r}")
    seeds = [int(s) for s in sorted(results["seed"].unique())]
    design = sorted({validate_seed(s) for s in design_seeds})
    record = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "chapter": chapter,
        "title": title,
        "scale": scale.label,
        "seeds": seeds,
        "design_seeds": design,
        "run": run_kind(scale.label, seeds, design),
        "plan": {name: asdict(p) for name, p in (plan or {}).items()},
        "parameters": parameters or {},
        "git_commit": git_commit(),
        "wall_time_s": round(float(wall_time_s), 1),
        "package_version": __version__,
        "environment": environment(),
        "interval": INTERVAL,
        "verdict": verdict.outcome,
        "hypotheses": [effect_record(e) for e in verdict.effects],
        "results": results[[*ID_COLUMNS, "metric", "value"]].to_dict(orient="records"),
    }
    json.dumps(strict(record), default=json_default, allow_nan=False)  # raises now, before anything is printed
    return record


def effect_record(effect) -> dict:
    """One hypothesis as the results file holds it: its declaration, effect and outcome."""
    return {
        **asdict(effect.hypothesis),
        "estimate": effect.estimate,
        "ci_low": effect.ci_low,
        "ci_high": effect.ci_high,
        "n_seeds": effect.n_seeds,
        "n_agree": effect.n_agree,
        "unpaired_seeds": list(effect.unpaired),
        "outcome": effect.outcome,
    }


def write_record(record: dict, folder: Path) -> Path:
    """Write `record` as `<folder>/<chapter>.json` (strict JSON, NaN as null) and return the path."""
    check_writable(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['chapter']}.json"
    path.write_text(json.dumps(strict(record), indent=1, default=json_default, allow_nan=False) + "\n")
    return path


def conclude(
    chapter: str,
    title: str,
    results: pd.DataFrame,
    hypotheses: Sequence[Hypothesis],
    scale: Scale,
    wall_time_s: float,
    design_seeds: Sequence[int],
    parameters: dict | None = None,
    custom_seeds: bool = False,
    directory: str | Path | None = None,
    plan: dict[str, Plan] | None = None,
) -> Verdict:
    """Compute the verdict, write the chapter's results file (see `RESULTS_SCHEMA`), then print the verdict.

    Everything is checked and the file written before anything is printed, so the printed verdict and the file
    cannot disagree. Where the file goes: `output_dir`.
    """
    verdict = evaluate(results, hypotheses)
    record = record_of(chapter, title, results, verdict, scale, wall_time_s, design_seeds, parameters, plan)
    path = write_record(record, output_dir(scale, custom_seeds, directory))
    if scale.wiring_check:
        print(f"({'a dry run' if scale.dry else 'smoke scale'}: a wiring check, the numbers below are noise)")
    elif record["run"] == DESIGN:
        print(f"(seeds {record['seeds']} include design seeds: a provisional, not a confirmation, run)")
    print(verdict)
    where = {"smoke": "the smoke-runs folder", "dry": "the dry-runs folder", "custom": "the custom-seeds folder"}.get(
        path.parent.name, "the results folder"
    )
    print(f"results written: {path.name} in {where}")
    return verdict


def read_record(path: str | Path) -> dict:
    """One results file; a file that is not valid JSON is named in the error."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not a valid results file: {error}") from None


def read_results(directory: str | Path | None = None) -> list[dict]:
    """Every chapter's results file of the current schema in `directory` (default: `results_dir()`), sorted by
    chapter."""
    folder = Path(directory) if directory is not None else results_dir()
    records = [read_record(p) for p in sorted(folder.glob("*.json"))]
    return [r for r in records if r.get("schema_version") == RESULTS_SCHEMA_VERSION]


def frame(record: dict) -> pd.DataFrame:
    """A results file's tidy results as a data frame (null values as NaN)."""
    results = pd.DataFrame(record["results"], columns=[*ID_COLUMNS, "metric", "value"])
    results["condition"] = results["condition"].fillna("")
    results["value"] = results["value"].astype(float)
    return results


def declared(record: dict) -> list[Hypothesis]:
    """The hypotheses a results file declares."""
    names = {f.name for f in fields(Hypothesis)}
    return [Hypothesis(**{k: v for k, v in h.items() if k in names}) for h in record["hypotheses"]]


def rescore(record: dict) -> Verdict:
    """A results file's verdict recomputed from its own tidy results under the book's current rule."""
    return evaluate(frame(record), declared(record))


def problems(record: dict) -> list[str]:
    """What makes a results file unfit for the book (empty when fit): the schema's protocol, checked."""
    found = []
    if record.get("schema_version") != RESULTS_SCHEMA_VERSION:
        return [f"schema {record.get('schema_version')}, not {RESULTS_SCHEMA_VERSION}"]
    if "design_seeds" not in record:
        found.append("no design_seeds")
    overlap = sorted(set(record["seeds"]) & set(record.get("design_seeds", [])))
    if record.get("run") == CONFIRMATION and overlap:
        found.append(f"a confirmation run on design seeds {overlap}")
    if record.get("run") != run_kind(record["scale"], record["seeds"], record.get("design_seeds", [])):
        found.append(f"run {record.get('run')!r} does not follow from its scale and seeds")
    try:
        rescored = rescore(record)
    except ValueError as error:
        return [*found, str(error)]
    if rescored.outcome != record["verdict"]:
        found.append(f"verdict {record['verdict']!r}, but its numbers give {rescored.outcome!r}")
    for stored, effect in zip(record["hypotheses"], rescored.effects, strict=True):
        if stored["outcome"] != effect.outcome:
            found.append(f"{stored['name']}: outcome {stored['outcome']!r}, but its numbers give {effect.outcome!r}")
    if not any(h.role == HEADLINE for h in declared(record)):
        found.append("no headline hypothesis")
    return found


def design_plan(chapter: str, hypotheses: Sequence[Hypothesis], n: int, folder: Path | None = None) -> dict[str, Plan]:
    """The power plan of every headline and secondary hypothesis from the chapter's design run (the book's
    `results/design/<chapter>.json`, wherever this run writes); hypotheses the design run did not measure are
    left out."""
    path = (folder or book_results_dir() / DESIGN_DIR) / f"{chapter}.json"
    if not path.is_file():
        return {}
    results = frame(read_record(path))
    from casestudies.verdict import paired_differences

    plans = {}
    for h in hypotheses:
        if h.role == CHECK:
            continue
        try:
            diffs = paired_differences(results, h.metric, h.arm, h.baseline, h.condition)
            plans[h.name] = plan_seeds(diffs.to_numpy(), h.sesoi, n=n)
        except ValueError:
            continue
    return plans


def strict(value):
    """The record with NaN and infinities as null, so the file is strict JSON any reader can parse."""
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return None
    return value


def json_default(value):
    """`json.dumps`' fallback for numpy scalars and tuples/sets, the values chapters put in results."""
    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to a results file")
