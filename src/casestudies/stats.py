"""Seeds, paired effects with confidence intervals, and the verdict every chapter prints.

Hypotheses are declared in code before the experiment runs; the verdict is computed from the data with one
rule for the whole book. The effect of a hypothesis is the mean over seeds of the paired difference
`arm − baseline` (paired by seed, within one condition), with a **Student-t 95% interval** on the per-seed
differences: mean ± t(0.975, n − 1) · sd / √n. At the seed counts the book uses (5 at `cpu`, 8 at `gpu`) its
coverage is close to nominal for roughly normal differences and for accuracy differences, and falls short for
strongly skewed differences or a collapse in some seeds only (about 0.8 to 0.9 at 5 seeds; `tests/test_stats.py`
simulates all of these), unlike a percentile bootstrap over seeds,
which at 3 seeds is about the range of the differences and covers the mean only about 75% of the time
(Henderson et al. 2018, "Deep Reinforcement Learning that Matters"; Agarwal et al. 2021, "Deep RL at the Edge
of the Statistical Precipice").

The rule: *reproduced* when the interval lies beyond the bound in the expected direction, *partly* when the
estimate does but the interval does not, *not reproduced* otherwise. The bound is 0, or `−margin` for a
non-inferiority claim ("no worse than"), which is allowed only where the source claims "no worse". Every
effect also reports how many seeds point the expected way.

The same call that prints the verdict writes the chapter's results file (`RESULTS_SCHEMA`), which the book's
scorecard reads.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from tqdm import tqdm

from casestudies.scale import Scale

REPRODUCED, PARTLY, NOT_REPRODUCED = "reproduced", "partly", "not reproduced"
RESULTS_SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)  # the scorecard also reads files written before schema 2
RESULTS_DIR_VAR = "CASESTUDIES_RESULTS_DIR"
INTERVAL = "Student-t 95% CI of the mean paired difference over seeds"
ID_COLUMNS = ("arm", "seed", "condition")

RESULTS_SCHEMA = """\
One JSON object per chapter, `results/<chapter>.json` (schema 2):
  schema_version   int, 2
  chapter          str, the notebook's stem, e.g. "01-binary-reward-calibration"
  title            str, the finding in a few words
  scale            str, "smoke" | "cpu" | "gpu"
  seeds            list[int]
  parameters       {name: value} of the chapter's parameters cell, as run
  git_commit       str | null, the checkout's commit, "-dirty" when src/ or pyproject.toml differed from it
  wall_time_s      float, the whole notebook run up to the verdict
  package_version  str, casestudies.__version__
  environment      {python, torch, transformers, trl, platform}
  interval         str, how the CIs were computed
  verdict          str, "reproduced" | "partly" | "not reproduced"
  hypotheses       list of {name, claim, metric, arm, baseline, direction, margin, condition,
                            estimate, ci_low, ci_high, n_seeds, n_agree, outcome}
  results          list of {arm, seed, condition, metric, value}  (tidy: one row per measurement)
Undefined numbers (NaN) are written as null. Schema 1 lacked parameters, git_commit, interval, condition and
n_agree, and its CIs were percentile bootstraps; `rescore` recomputes such a file's verdict under the current rule.
"""

T = TypeVar("T")


@dataclass(frozen=True)
class Hypothesis:
    """A declared, directional claim: `arm − baseline` on `metric` (within `condition`) should be above (or
    below) the bound, `0` for a strict improvement or `∓margin` for "no worse than margin"."""

    name: str
    claim: str
    metric: str
    arm: str
    baseline: str
    direction: Literal["greater", "less"]
    margin: float = 0.0
    condition: str = ""

    def __post_init__(self):
        if self.direction not in ("greater", "less"):
            raise ValueError(f"direction must be 'greater' or 'less', got {self.direction!r}")
        if self.margin < 0:
            raise ValueError(f"margin must be non-negative, got {self.margin}")
        if self.arm == self.baseline:
            raise ValueError(f"{self.name}: arm and baseline must differ, both are {self.arm!r}")

    @property
    def bound(self) -> float:
        """The value the paired difference must clear: `-margin` for 'greater', `+margin` for 'less'."""
        return (-self.margin if self.direction == "greater" else self.margin) + 0.0  # + 0.0: never print -0.000

    @property
    def measured(self) -> str:
        """The metric, with its condition in brackets when there is one, as the verdict and its plot name it."""
        return f"{self.metric} [{self.condition}]" if self.condition else self.metric

    @property
    def contrast(self) -> str:
        """`arm − baseline`, as the verdict, its table and its plot name the paired difference."""
        return f"{self.arm} − {self.baseline}"

    def agrees(self, difference: float) -> bool:
        """Whether one seed's difference lies beyond the bound in the expected direction."""
        return difference > self.bound if self.direction == "greater" else difference < self.bound


@dataclass(frozen=True)
class Effect:
    """A hypothesis with its mean paired difference, 95% CI, seed counts and outcome."""

    hypothesis: Hypothesis
    estimate: float
    ci_low: float
    ci_high: float
    n_seeds: int
    n_agree: int
    outcome: str

    def describe(self) -> str:
        """One line: name, outcome, the difference with its CI, the seeds that agree, and the claim."""
        h = self.hypothesis
        sign = ">" if h.direction == "greater" else "<"
        if self.n_seeds == 0:
            return (
                f"{h.name} {self.outcome.upper():>15}  {h.measured}: {h.contrast} is undefined "
                f"(no seed has a value for both arms)  {h.claim}"
            )
        return (
            f"{h.name} {self.outcome.upper():>15}  {h.measured}: {h.contrast} = {self.estimate:+.3f} "
            f"[95% CI {self.ci_low:+.3f}, {self.ci_high:+.3f}] (expected {sign} {h.bound:+.3f}; "
            f"{self.n_agree}/{self.n_seeds} seeds agree)  {h.claim}"
        )


@dataclass
class Verdict:
    """The chapter's verdict: each hypothesis' effect and the overall outcome."""

    effects: list[Effect]
    outcome: str = field(init=False)

    def __post_init__(self):
        outcomes = {e.outcome for e in self.effects}
        if not self.effects:
            raise ValueError("a verdict needs at least one hypothesis")
        if outcomes == {REPRODUCED}:
            self.outcome = REPRODUCED
        elif outcomes == {NOT_REPRODUCED}:
            self.outcome = NOT_REPRODUCED
        else:
            self.outcome = PARTLY

    def table(self) -> pd.DataFrame:
        """The effects as a compact table (one row per hypothesis)."""
        return pd.DataFrame(
            [
                {
                    "hypothesis": e.hypothesis.name,
                    "metric": e.hypothesis.metric,
                    "condition": e.hypothesis.condition,
                    "contrast": e.hypothesis.contrast,
                    "estimate": e.estimate,
                    "ci_low": e.ci_low,
                    "ci_high": e.ci_high,
                    "seeds agree": f"{e.n_agree}/{e.n_seeds}",
                    "outcome": e.outcome,
                }
                for e in self.effects
            ]
        )

    def __getitem__(self, name: str) -> Effect:
        """The effect of the hypothesis called `name`."""
        for effect in self.effects:
            if effect.hypothesis.name == name:
                return effect
        raise KeyError(f"no hypothesis {name!r}; declared: {[e.hypothesis.name for e in self.effects]}")

    def __str__(self) -> str:
        lines = [f"VERDICT: {self.outcome.upper()}  ({INTERVAL})"] + ["  " + e.describe() for e in self.effects]
        return "\n".join(lines)


def tidy(rows: Iterable[dict]) -> pd.DataFrame:
    """Turn records ({arm, seed, [condition], metric1: value, ...}) into the tidy frame
    (arm, seed, condition, metric, value); a record without `condition` has condition "".

    Records may differ in their metrics: a metric a record lacks makes no row (a NaN it holds does).
    """
    long = []
    for record in rows:
        missing = [c for c in ("arm", "seed") if c not in record]
        if missing:
            raise ValueError(f"every record needs 'arm' and 'seed'; missing {missing} in {record}")
        condition = record.get("condition")
        condition = "" if condition is None or (isinstance(condition, float) and math.isnan(condition)) else condition
        ids = {"arm": str(record["arm"]), "seed": int(record["seed"]), "condition": str(condition)}
        long.extend({**ids, "metric": k, "value": float(v)} for k, v in record.items() if k not in ID_COLUMNS)
    return pd.DataFrame(long, columns=[*ID_COLUMNS, "metric", "value"])


def check_unique(results: pd.DataFrame) -> None:
    """Raise if one (arm, seed, condition, metric) has more than one value: a forgotten condition would
    otherwise be averaged away silently."""
    duplicated = results[results.duplicated([*ID_COLUMNS, "metric"], keep=False)]
    if len(duplicated):
        raise ValueError(
            f"{len(duplicated)} rows share an (arm, seed, condition, metric); give each measurement its own "
            f"condition. First of them:\n{duplicated.head(6).to_string(index=False)}"
        )


def summary_table(
    results: pd.DataFrame,
    metrics: Sequence[str],
    arms: Sequence[str] | None = None,
    digits: int = 3,
    condition: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-arm mean over seeds of each metric (a numeric frame) and the same as "mean ± sd" text for display,
    rows in the order of `arms` (default: as they first appear), within one `condition`."""
    check_unique(results)
    results = results[results["condition"] == condition]
    missing = sorted(set(metrics) - set(results["metric"]))
    if missing:
        raise ValueError(f"no metric(s) {missing} in the results for condition {condition!r}")
    order = list(arms) if arms is not None else list(dict.fromkeys(results["arm"]))
    agg = results[results["metric"].isin(metrics)].groupby(["arm", "metric"])["value"].agg(["mean", "std"])
    means = agg["mean"].unstack("metric").loc[order, list(metrics)]
    spread = agg["std"].unstack("metric").loc[order, list(metrics)]

    def shown(v: float) -> str:
        return f"{round(v, digits) + 0.0:.{digits}f}"  # + 0.0 after rounding: never "-0.000"

    text = means.map(shown) + " ± " + spread.map(shown)
    return means, text


def paired_differences(results: pd.DataFrame, metric: str, arm: str, baseline: str, condition: str = "") -> pd.Series:
    """Per-seed `arm − baseline` for one metric within one condition, over the seeds both arms have (NaN
    seeds dropped)."""
    known = set(results["arm"])
    for name in (arm, baseline):
        if name not in known:
            raise ValueError(f"no arm {name!r} in the results; arms are {sorted(known)}")
    if metric not in set(results["metric"]):
        raise ValueError(f"no metric {metric!r} in the results")
    conditions = set(results["condition"])
    if condition not in conditions:
        raise ValueError(f"no condition {condition!r} in the results; conditions are {sorted(conditions)}")
    rows = results[(results["metric"] == metric) & (results["condition"] == condition)]
    check_unique(rows)
    table = rows.pivot(index="seed", columns="arm", values="value")
    for name in (arm, baseline):
        if name not in table:
            raise ValueError(f"arm {name!r} has no {metric!r} in condition {condition!r}")
    return (table[arm] - table[baseline]).dropna()


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean of `values` and its Student-t interval, mean ± t(1 − α/2, n − 1) · sd / √n.

    The interval is NaN with a single value (no spread to estimate); its coverage is nominal for normal
    differences at any n, close to it for accuracy differences at n ≥ 5, and short of it (about 0.8 to 0.9 at
    n = 5) for strongly skewed differences or a collapse in some seeds only.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("t_interval needs at least one value")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    half = float(scipy_stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def judge(hypothesis: Hypothesis, estimate: float, ci_low: float, ci_high: float) -> str:
    """The book's rule: reproduced if the CI clears the bound in the expected direction, partly if only the
    estimate does (or the CI is undefined, with one seed), not reproduced otherwise (or with no estimate)."""
    if math.isnan(estimate):
        return NOT_REPRODUCED
    points = hypothesis.agrees(estimate)
    if math.isnan(ci_low) or math.isnan(ci_high):
        return PARTLY if points else NOT_REPRODUCED
    cleared = hypothesis.agrees(ci_low) if hypothesis.direction == "greater" else hypothesis.agrees(ci_high)
    return REPRODUCED if cleared else PARTLY if points else NOT_REPRODUCED


def evaluate(results: pd.DataFrame, hypotheses: Sequence[Hypothesis]) -> Verdict:
    """Measure every declared hypothesis on the tidy results and return the verdict."""
    effects = []
    for h in hypotheses:
        diffs = paired_differences(results, h.metric, h.arm, h.baseline, h.condition).to_numpy()
        if diffs.size == 0:
            effects.append(Effect(h, math.nan, math.nan, math.nan, 0, 0, NOT_REPRODUCED))
            continue
        estimate, low, high = t_interval(diffs)
        agree = int(sum(h.agrees(d) for d in diffs))
        effects.append(Effect(h, estimate, low, high, int(diffs.size), agree, judge(h, estimate, low, high)))
    return Verdict(effects)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def usable_cores() -> int:
    """The CPU cores this process may use: CPU affinity and container (cgroup) quotas respected."""
    from joblib import cpu_count

    return max(1, cpu_count())


def workers_for(n_seeds: int) -> int:
    """How many worker processes `map_seeds` uses for `n_seeds` seeds: one per usable core, never more than the
    seeds (one worker means the seeds run in this process)."""
    return max(1, min(usable_cores(), n_seeds))


def map_seeds(fn: Callable[[int], T], seeds: Sequence[int], parallel: bool = True) -> list[T]:
    """`[fn(seed) for seed in seeds]`, in worker processes when `parallel` and more than one core is usable (one
    per usable core, never more than the seeds; one torch thread each, and a progress bar over finished seeds).

    Workers are started fresh (loky, never forked from a process whose torch threads are running), so a
    function defined in a notebook works; the results are exactly the serial ones for the same seeds when
    `fn` seeds everything it draws and the serial run also uses one torch thread. The function and the
    globals it uses are copied to the workers for every seed, so it should build its models and data itself
    rather than read large ones from the notebook.
    Per-step progress bars are hidden in workers so the output stays readable. A failing seed raises its own
    exception, with a note naming the seed (and the worker's traceback as its cause); the other seeds are
    cancelled and the workers stopped.
    """
    return _map(fn, [(int(s),) for s in seeds], parallel, "seed", "map_seeds")


def map_jobs(fn: Callable[..., T], jobs: Sequence[tuple], parallel: bool = True) -> list[T]:
    """`[fn(*job) for job in jobs]`, run as `map_seeds` runs seeds (same workers, threads and error notes).

    For a run whose seeds split into independent jobs of unequal cost (a seed and a model size, say): five
    seeds on two workers leave one idle for the last seed, while ten jobs, the longest submitted first, keep
    both busy.
    """
    return _map(fn, [tuple(job) for job in jobs], parallel, "job", "map_jobs")


def _label(job: tuple) -> str:
    """A job as progress bars and error notes name it: its plain values (numbers, text, tuples of them), with
    anything else (model weights, say) shown by its type, so a label stays one short line."""

    def plain(x) -> bool:
        return isinstance(x, str | int | float) or (isinstance(x, tuple) and all(map(plain, x)))

    return "(" + ", ".join(repr(x) if plain(x) else type(x).__name__ for x in job) + ")"


def _map(fn: Callable[..., T], items: list[tuple], parallel: bool, kind: str, caller: str) -> list[T]:
    def name(item: tuple) -> str:
        return f"{kind} {item[0] if kind == 'seed' else _label(item)}"

    workers = workers_for(len(items)) if parallel else 1
    started = time.time()
    if workers == 1:
        serial = []
        for item in items:
            try:
                serial.append(fn(*item))
            except Exception as error:
                error.add_note(f"raised by {name(item)} ({caller}, in this process)")
                raise
        return serial
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(
        max_workers=workers, initializer=_init_worker, env={"TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    )
    futures = {executor.submit(fn, *item): i for i, item in enumerate(items)}
    results: dict[int, T] = {}
    item = None
    try:
        with tqdm(total=len(items), desc=f"{kind}s ({workers} workers)", mininterval=1.0, file=sys.stdout) as bar:
            for future in as_completed(futures):
                item = items[futures[future]]
                results[futures[future]] = future.result()
                bar.set_postfix_str(f"{name(item)} done at {time.time() - started:.0f} s", refresh=False)
                bar.update(1)
    except BaseException as error:  # a failed job or an interrupt: stop the rest rather than leave them running
        for pending in futures:
            pending.cancel()
        executor.shutdown(wait=False, kill_workers=True)
        if isinstance(error, Exception) and item is not None:
            error.add_note(f"raised by {name(item)} ({caller}, in a worker process; its traceback is the cause)")
        raise
    return [results[i] for i in range(len(items))]


def results_dir() -> Path:
    """Where results files go: `$CASESTUDIES_RESULTS_DIR`, else `results/` at the book's root (the folder
    above the working directory holding `_toc.yml`), else `./results`."""
    if os.environ.get(RESULTS_DIR_VAR):
        return Path(os.environ[RESULTS_DIR_VAR])
    cwd = Path.cwd()
    root = next((p for p in (cwd, *cwd.parents) if (p / "_toc.yml").is_file()), cwd)
    return root / "results"


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


def conclude(
    chapter: str,
    title: str,
    results: pd.DataFrame,
    hypotheses: Sequence[Hypothesis],
    scale: Scale,
    wall_time_s: float,
    parameters: dict | None = None,
    custom_seeds: bool = False,
    directory: str | Path | None = None,
) -> Verdict:
    """Compute the verdict, print it, and write the chapter's results file (see `RESULTS_SCHEMA`).

    Without `directory` the file goes to `results_dir()`; a smoke-scale run's to its `smoke/` subfolder (unless
    `$CASESTUDIES_RESULTS_DIR` is set) and a run on seeds other than the chapter's own to its `custom/`
    subfolder, so neither replaces the results of the published run. One call does all three so that the
    printed verdict and the committed file cannot disagree.
    """
    from casestudies import __version__

    verdict = evaluate(results, hypotheses)
    if scale.name == "smoke":
        print("(smoke scale: a wiring check, the numbers below are noise)")
    print(verdict)
    record = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "chapter": chapter,
        "title": title,
        "scale": scale.name,
        "seeds": [int(s) for s in sorted(results["seed"].unique())],
        "parameters": parameters or {},
        "git_commit": git_commit(),
        "wall_time_s": round(float(wall_time_s), 1),
        "package_version": __version__,
        "environment": environment(),
        "interval": INTERVAL,
        "verdict": verdict.outcome,
        "hypotheses": [
            {
                **asdict(e.hypothesis),
                "estimate": e.estimate,
                "ci_low": e.ci_low,
                "ci_high": e.ci_high,
                "n_seeds": e.n_seeds,
                "n_agree": e.n_agree,
                "outcome": e.outcome,
            }
            for e in verdict.effects
        ],
        "results": results[[*ID_COLUMNS, "metric", "value"]].to_dict(orient="records"),
    }
    if directory is not None:
        out = Path(directory)
    else:  # smoke runs and runs on other seeds never overwrite the committed results of the published run
        out = results_dir()
        if scale.name == "smoke" and not os.environ.get(RESULTS_DIR_VAR):
            out = out / "smoke"
        if custom_seeds:
            out = out / "custom"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{chapter}.json"
    path.write_text(json.dumps(_strict(record), indent=1, default=json_default, allow_nan=False) + "\n")
    where = {"smoke": "the smoke-runs folder", "custom": "the custom-seeds folder"}.get(out.name, "the results folder")
    print(f"results written: {path.name} in {where}")
    return verdict


def read_results(directory: str | Path | None = None) -> list[dict]:
    """Every chapter's results file in `directory` (default: `results_dir()`) of a readable schema version,
    sorted by chapter."""
    folder = Path(directory) if directory is not None else results_dir()
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    return [r for r in records if r.get("schema_version") in READABLE_SCHEMA_VERSIONS]


def rescore(record: dict) -> Verdict:
    """A results file's verdict recomputed from its own tidy results under the book's current rule, e.g. for a
    file written under an older one (schema 1)."""
    results = pd.DataFrame(record["results"])
    if "condition" not in results:
        results["condition"] = ""
    results["condition"] = results["condition"].fillna("")
    results["value"] = results["value"].astype(float)  # null (an undefined value) becomes NaN
    names = {f.name for f in fields(Hypothesis)}
    hypotheses = [Hypothesis(**{k: v for k, v in h.items() if k in names}) for h in record["hypotheses"]]
    return evaluate(results, hypotheses)


def _strict(value):
    """The record with NaN and infinities as null, so the file is strict JSON any reader can parse."""
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
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
