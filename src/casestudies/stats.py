"""Seeds, paired effects with bootstrap confidence intervals, and the verdict every chapter prints.

Hypotheses are declared in code before the experiment runs; the verdict is computed from the data with one
rule for the whole book: a hypothesis is *reproduced* when the 95% bootstrap CI of the paired difference
(arm − baseline, paired by seed) lies beyond the margin in the expected direction, *partly* when the estimate
points that way but the CI does not clear the margin, and *not reproduced* otherwise.

The same call that prints the verdict writes the chapter's results file (schema below), which the book's
scorecard reads.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from casestudies.scale import Scale

REPRODUCED, PARTLY, NOT_REPRODUCED = "reproduced", "partly", "not reproduced"
RESULTS_SCHEMA_VERSION = 1
RESULTS_DIR_VAR = "CASESTUDIES_RESULTS_DIR"

RESULTS_SCHEMA = """\
One JSON object per chapter, `results/<chapter>.json`:
  schema_version   int, currently 1
  chapter          str, the notebook's stem, e.g. "01-binary-reward-calibration"
  title            str, the finding in a few words
  scale            str, "smoke" | "cpu" | "gpu"
  seeds            list[int]
  wall_time_s      float, the whole notebook run up to the verdict
  package_version  str, casestudies.__version__
  environment      {python, torch, transformers, trl, platform}
  verdict          str, "reproduced" | "partly" | "not reproduced"
  hypotheses       list of {name, claim, metric, arm, baseline, direction, margin,
                            estimate, ci_low, ci_high, n_seeds, outcome}
  results          list of {arm, seed, metric, value}  (tidy: one row per measurement)
"""


@dataclass(frozen=True)
class Hypothesis:
    """A declared, directional claim about one metric: `arm − baseline` should be above (or below) `-margin`.

    `margin=0` asks for a strict improvement; a positive margin states non-inferiority ("no worse than margin").
    """

    name: str
    claim: str
    metric: str
    arm: str
    baseline: str
    direction: Literal["greater", "less"]
    margin: float = 0.0

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


@dataclass(frozen=True)
class Effect:
    """A hypothesis with its measured paired difference, 95% bootstrap CI and outcome."""

    hypothesis: Hypothesis
    estimate: float
    ci_low: float
    ci_high: float
    n_seeds: int
    outcome: str

    def describe(self) -> str:
        """One line: name, outcome, the difference with its CI, and the claim."""
        h = self.hypothesis
        sign = ">" if h.direction == "greater" else "<"
        return (
            f"{h.name} {self.outcome.upper():>15}  {h.metric}: {h.arm} − {h.baseline} = {self.estimate:+.3f} "
            f"[95% CI {self.ci_low:+.3f}, {self.ci_high:+.3f}] (expected {sign} {h.bound:+.3f}; "
            f"{self.n_seeds} seeds)  {h.claim}"
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
                    "contrast": f"{e.hypothesis.arm} − {e.hypothesis.baseline}",
                    "estimate": e.estimate,
                    "ci_low": e.ci_low,
                    "ci_high": e.ci_high,
                    "outcome": e.outcome,
                }
                for e in self.effects
            ]
        )

    def __str__(self) -> str:
        lines = [f"VERDICT: {self.outcome.upper()}"] + ["  " + e.describe() for e in self.effects]
        return "\n".join(lines)


def tidy(rows: Iterable[dict], id_vars: Sequence[str] = ("arm", "seed")) -> pd.DataFrame:
    """Turn wide records ({arm, seed, metric1, metric2, ...}) into the tidy long frame (arm, seed, metric, value)."""
    wide = pd.DataFrame(list(rows))
    missing = [c for c in id_vars if c not in wide.columns]
    if missing:
        raise ValueError(f"every record needs {list(id_vars)}; missing {missing}")
    long = wide.melt(id_vars=list(id_vars), var_name="metric", value_name="value")
    long["value"] = long["value"].astype(float)
    return long


def summary_table(
    results: pd.DataFrame, metrics: Sequence[str], arms: Sequence[str] | None = None, digits: int = 3
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-arm mean over seeds of each metric (a numeric frame) and the same as "mean ± sd" text for display,
    rows in the order of `arms` (default: as they first appear)."""
    missing = sorted(set(metrics) - set(results["metric"]))
    if missing:
        raise ValueError(f"no metric(s) {missing} in the results")
    order = list(arms) if arms is not None else list(dict.fromkeys(results["arm"]))
    agg = results[results["metric"].isin(metrics)].groupby(["arm", "metric"])["value"].agg(["mean", "std"])
    means = agg["mean"].unstack("metric").loc[order, list(metrics)]
    spread = agg["std"].unstack("metric").loc[order, list(metrics)]
    text = means.map(lambda v: f"{v:.{digits}f}") + " ± " + spread.map(lambda v: f"{v:.{digits}f}")
    return means, text


def paired_differences(results: pd.DataFrame, metric: str, arm: str, baseline: str) -> pd.Series:
    """Per-seed `arm − baseline` for one metric, over the seeds both arms have (NaN seeds dropped)."""
    known = set(results["arm"])
    for name in (arm, baseline):
        if name not in known:
            raise ValueError(f"no arm {name!r} in the results; arms are {sorted(known)}")
    if metric not in set(results["metric"]):
        raise ValueError(f"no metric {metric!r} in the results")
    table = results[results["metric"] == metric].pivot_table(index="seed", columns="arm", values="value")
    return (table[arm] - table[baseline]).dropna()


def bootstrap_ci(values: Sequence[float], n_boot: int = 10_000, level: float = 0.95, seed: int = 0):
    """Mean of `values` and its percentile bootstrap CI (resampling the values, i.e. seeds, with replacement).

    With few seeds the interval is crude (with 3 seeds it is close to [min, max] of the seed differences):
    excluding zero then means every seed agrees in sign.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(x.mean()), float(low), float(high)


def judge(hypothesis: Hypothesis, estimate: float, ci_low: float, ci_high: float) -> str:
    """The book's rule: reproduced if the CI clears the bound in the expected direction, partly if only the
    estimate does, not reproduced otherwise (including an undefined estimate)."""
    if any(math.isnan(v) for v in (estimate, ci_low, ci_high)):
        return NOT_REPRODUCED
    if hypothesis.direction == "greater":
        cleared, points = ci_low > hypothesis.bound, estimate > hypothesis.bound
    else:
        cleared, points = ci_high < hypothesis.bound, estimate < hypothesis.bound
    return REPRODUCED if cleared else PARTLY if points else NOT_REPRODUCED


def evaluate(results: pd.DataFrame, hypotheses: Sequence[Hypothesis], n_boot: int = 10_000, seed: int = 0) -> Verdict:
    """Measure every declared hypothesis on the tidy results and return the verdict."""
    effects = []
    for h in hypotheses:
        diffs = paired_differences(results, h.metric, h.arm, h.baseline)
        if diffs.empty:
            effects.append(Effect(h, math.nan, math.nan, math.nan, 0, NOT_REPRODUCED))
            continue
        estimate, low, high = bootstrap_ci(diffs.to_numpy(), n_boot=n_boot, seed=seed)
        effects.append(Effect(h, estimate, low, high, int(diffs.size), judge(h, estimate, low, high)))
    return Verdict(effects)


def results_dir() -> Path:
    """Where results files go: `$CASESTUDIES_RESULTS_DIR`, else `results/` at the book's root (the folder
    above the working directory holding `_toc.yml`), else `./results`."""
    if os.environ.get(RESULTS_DIR_VAR):
        return Path(os.environ[RESULTS_DIR_VAR])
    cwd = Path.cwd()
    root = next((p for p in (cwd, *cwd.parents) if (p / "_toc.yml").is_file()), cwd)
    return root / "results"


def _environment() -> dict:
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


def conclude(
    chapter: str,
    title: str,
    results: pd.DataFrame,
    hypotheses: Sequence[Hypothesis],
    scale: Scale,
    wall_time_s: float,
    n_boot: int | None = None,
    directory: str | Path | None = None,
) -> Verdict:
    """Compute the verdict, print it, and write the chapter's results file (see `RESULTS_SCHEMA`).

    Without `directory` the file goes to `results_dir()`, or its `smoke/` subfolder for a smoke-scale run.
    One call does all three so that the printed verdict and the committed file cannot disagree.
    """
    from casestudies import __version__

    verdict = evaluate(results, hypotheses, n_boot=n_boot or scale.bootstrap)
    if scale.name == "smoke":
        print("(smoke scale: a wiring check, the numbers below are noise)")
    print(verdict)
    record = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "chapter": chapter,
        "title": title,
        "scale": scale.name,
        "seeds": [int(s) for s in sorted(results["seed"].unique())],
        "wall_time_s": round(float(wall_time_s), 1),
        "package_version": __version__,
        "environment": _environment(),
        "verdict": verdict.outcome,
        "hypotheses": [
            {
                **asdict(e.hypothesis),
                "estimate": e.estimate,
                "ci_low": e.ci_low,
                "ci_high": e.ci_high,
                "n_seeds": e.n_seeds,
                "outcome": e.outcome,
            }
            for e in verdict.effects
        ],
        "results": results[["arm", "seed", "metric", "value"]].to_dict(orient="records"),
    }
    if directory is not None:
        out = Path(directory)
    else:  # smoke runs never overwrite the committed results of a real run
        out = (
            results_dir() / "smoke" if scale.name == "smoke" and not os.environ.get(RESULTS_DIR_VAR) else results_dir()
        )
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{chapter}.json"
    path.write_text(json.dumps(record, indent=1, default=_json_default) + "\n")
    print(f"results written to {path}")
    return verdict


def read_results(directory: str | Path | None = None) -> list[dict]:
    """Every chapter's results file in `directory` (default: `results_dir()`), sorted by chapter."""
    folder = Path(directory) if directory is not None else results_dir()
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    return [r for r in records if r.get("schema_version") == RESULTS_SCHEMA_VERSION]


def _json_default(value):
    if isinstance(value, np.integer | np.floating):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to a results file")
