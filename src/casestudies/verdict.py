"""Declared hypotheses, paired effects with Student-t intervals, and the verdict every chapter prints.

A hypothesis is declared in code before the confirmation run, with a **role**: `headline` (the source's own claim
in its direction), `secondary` (mechanisms, extensions, fixes, comparisons with controls) or `check` (true by
construction, a sanity check, a control working as designed). Its effect is the mean over seeds of the paired
difference `arm − baseline` (paired by seed, within one condition) with a Student-t 95% interval,
mean ± t(0.975, n − 1) · sd / √n (Henderson et al. 2018; Agarwal et al. 2021 on why not a bootstrap over a few
seeds). Every headline and secondary hypothesis names a smallest effect of interest (`sesoi`), and its outcome is

- **reproduced**: the interval clears the bound in the claimed direction (0, or −margin for "no worse than");
- **reversed**: the interval lies wholly on the other side of zero (of −margin for "no worse than");
- **absent**: the interval lies inside ±sesoi, so an effect of the size that matters is ruled out (the
  equivalence test of Lakens 2017, two one-sided tests at the same level as the interval);
- **inconclusive**: anything else.

A check either **holds** (its interval clears the bound) or **FAILS**. The chapter's verdict comes from its
headline hypotheses only: reproduced, reversed, not reproduced (absent), inconclusive, or mixed (two headlines
that disagree). With one seed there is no interval and no verdict word.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from casestudies.tidy import check_unique

HEADLINE, SECONDARY, CHECK = "headline", "secondary", "check"
ROLES = (HEADLINE, SECONDARY, CHECK)
REPRODUCED, REVERSED, ABSENT, INCONCLUSIVE = "reproduced", "reversed", "absent", "inconclusive"
HOLDS, FAILS = "holds", "FAILS"
NO_INTERVAL, UNDEFINED = "no interval", "undefined"  # one seed; no seed with both arms
OUTCOMES = (REPRODUCED, REVERSED, ABSENT, INCONCLUSIVE)
# The chapter's verdict, from its headline hypotheses
NOT_REPRODUCED, MIXED, NO_VERDICT = "not reproduced", "mixed", "no verdict"
CHAPTER_WORD = {REPRODUCED: REPRODUCED, REVERSED: REVERSED, ABSENT: NOT_REPRODUCED, INCONCLUSIVE: INCONCLUSIVE}
INTERVAL = "Student-t 95% CI of the mean paired difference over seeds"


@dataclass(frozen=True)
class Hypothesis:
    """A declared, directional claim: `arm − baseline` on `metric` (within `condition`) should lie beyond the
    bound, `0` for a strict effect or `∓margin` for "no worse than margin".

    `role` is `headline`, `secondary` or `check`; headline and secondary hypotheses need `sesoi > 0`, the smallest
    effect that would matter, and `why`, one sentence justifying it.
    """

    name: str
    claim: str
    metric: str
    arm: str
    baseline: str
    direction: Literal["greater", "less"]
    margin: float = 0.0
    condition: str = ""
    role: str = ""
    sesoi: float | None = None
    why: str = ""

    def __post_init__(self):
        if self.direction not in ("greater", "less"):
            raise ValueError(f"{self.name}: direction must be 'greater' or 'less', got {self.direction!r}")
        if not isinstance(self.margin, int | float) or not math.isfinite(self.margin) or self.margin < 0:
            raise ValueError(f"{self.name}: margin must be a finite non-negative number, got {self.margin!r}")
        if self.arm == self.baseline:
            raise ValueError(f"{self.name}: arm and baseline must differ, both are {self.arm!r}")
        if self.role not in ROLES:
            raise ValueError(f"{self.name}: role must be one of {ROLES}, got {self.role!r}")
        if self.role != CHECK:
            if not isinstance(self.sesoi, int | float) or not math.isfinite(self.sesoi) or self.sesoi <= 0:
                raise ValueError(f"{self.name}: a {self.role} hypothesis needs a sesoi > 0, got {self.sesoi!r}")
            if not self.why.strip():
                raise ValueError(f"{self.name}: say in `why` why {self.sesoi} is the smallest effect that matters")

    @property
    def bound(self) -> float:
        """The value the paired difference must clear: `-margin` for 'greater', `+margin` for 'less'."""
        return (-self.margin if self.direction == "greater" else self.margin) + 0.0  # + 0.0: never print -0.000

    @property
    def sign(self) -> float:
        """+1 when the claim is 'greater', −1 when 'less': a difference times `sign` is positive in its direction."""
        return 1.0 if self.direction == "greater" else -1.0

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
        return (difference - self.bound) * self.sign > 0


def outcome(hypothesis: Hypothesis, estimate: float, ci_low: float, ci_high: float) -> str:
    """The book's rule for one hypothesis (see the module docstring); `no interval` with one seed and `undefined`
    without an estimate, whatever the role."""
    if math.isnan(estimate):
        return UNDEFINED
    if math.isnan(ci_low) or math.isnan(ci_high):
        return NO_INTERVAL
    h = hypothesis
    near, far = (ci_low, ci_high) if h.sign > 0 else (ci_high, ci_low)  # near: the end towards the bound
    cleared = h.agrees(near)
    if h.role == CHECK:
        return HOLDS if cleared else FAILS
    if cleared:
        return REPRODUCED
    if (far - (-h.margin * h.sign)) * h.sign < 0:  # the whole interval beyond zero (−margin) on the wrong side
        return REVERSED
    if -h.sesoi < ci_low and ci_high < h.sesoi:
        return ABSENT
    return INCONCLUSIVE


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
    unpaired: tuple[int, ...] = ()

    def interval(self) -> str:
        """`+0.123 [95% CI +0.050, +0.196]`, or why there is none."""
        if self.n_seeds == 0:
            return "undefined (no seed has a value for both arms)"
        if math.isnan(self.ci_low):
            return f"{self.estimate:+.3f} (no interval with one seed)"
        return f"{self.estimate:+.3f} [95% CI {self.ci_low:+.3f}, {self.ci_high:+.3f}]"

    def lean(self) -> str:
        """For an inconclusive outcome: which way the estimate leans and how many seeds agree."""
        toward = "the claimed direction" if self.estimate * self.hypothesis.sign > 0 else "the other way"
        return f"leans {toward}, {self.n_agree}/{self.n_seeds} seeds agree"

    def describe(self) -> str:
        """One line: name, outcome, the difference with its CI, the bound and sesoi, seeds, and the claim."""
        h = self.hypothesis
        sign = ">" if h.direction == "greater" else "<"
        label = self.outcome.upper() if h.role != CHECK else self.outcome
        parts = [f"{h.name} {label:>12}  {h.measured}: {h.contrast} = {self.interval()}"]
        if self.n_seeds:
            detail = f"expected {sign} {h.bound:+.3f}" + (f", sesoi {h.sesoi:g}" if h.sesoi else "")
            seeds = self.lean() if self.outcome == INCONCLUSIVE else f"{self.n_agree}/{self.n_seeds} seeds agree"
            parts.append(f"({detail}; {seeds})")
        if self.unpaired:
            parts.append(f"[seeds {list(self.unpaired)} left out: a value for one arm only]")
        parts.append(h.claim)
        return "  ".join(parts)


@dataclass
class Verdict:
    """The chapter's verdict: every hypothesis' effect, and the outcome computed from the headline ones."""

    effects: list[Effect]
    outcome: str = field(init=False)

    def __post_init__(self):
        headlines = self.of_role(HEADLINE)
        if not 1 <= len(headlines) <= 2:
            raise ValueError(f"a chapter declares one headline hypothesis (two at most), got {len(headlines)}")
        words = {CHAPTER_WORD.get(e.outcome, NO_VERDICT) for e in headlines}
        self.outcome = NO_VERDICT if NO_VERDICT in words else words.pop() if len(words) == 1 else MIXED

    def of_role(self, role: str) -> list[Effect]:
        """The effects of the hypotheses with this role, in declared order."""
        return [e for e in self.effects if e.hypothesis.role == role]

    @property
    def failed_checks(self) -> list[Effect]:
        """Checks whose interval did not clear their bound: a bug or a broken control."""
        return [e for e in self.of_role(CHECK) if e.outcome != HOLDS]

    def counts(self, role: str = SECONDARY) -> dict[str, int]:
        """How many hypotheses of `role` came out each way."""
        return dict(Counter(e.outcome for e in self.of_role(role)))

    def table(self) -> pd.DataFrame:
        """The effects as a compact table (one row per hypothesis, headline first)."""
        return pd.DataFrame(
            [
                {
                    "hypothesis": e.hypothesis.name,
                    "role": e.hypothesis.role,
                    "metric": e.hypothesis.measured,
                    "contrast": e.hypothesis.contrast,
                    "estimate": e.estimate,
                    "ci_low": e.ci_low,
                    "ci_high": e.ci_high,
                    "sesoi": e.hypothesis.sesoi,
                    "seeds agree": f"{e.n_agree}/{e.n_seeds}",
                    "outcome": e.outcome,
                }
                for role in ROLES
                for e in self.of_role(role)
            ]
        )

    def __getitem__(self, name: str) -> Effect:
        """The effect of the hypothesis called `name`."""
        for effect in self.effects:
            if effect.hypothesis.name == name:
                return effect
        raise KeyError(f"no hypothesis {name!r}; declared: {[e.hypothesis.name for e in self.effects]}")

    def headline(self) -> str:
        """The first line: the chapter's verdict with each headline's estimate, interval and seeds."""
        parts = [f"{e.hypothesis.name} {e.interval()}, {e.n_agree}/{e.n_seeds} seeds" for e in self.of_role(HEADLINE)]
        return f"VERDICT: {self.outcome.upper()}  ({'; '.join(parts)})"

    def __str__(self) -> str:
        def counted(role: str) -> str:
            counts = self.counts(role)
            return ", ".join(f"{n} {word}" for word, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"

        failed = self.failed_checks
        checks = f"checks: {counted(CHECK)}" + (
            f"  (FAILING: {', '.join(e.hypothesis.name for e in failed)}: a bug or a broken control)" if failed else ""
        )
        lines = [self.headline(), f"secondary: {counted(SECONDARY)}", checks, f"({INTERVAL})"]
        for role in ROLES:
            lines += [f"  [{role}] " + e.describe() for e in self.of_role(role)]
        return "\n".join(lines)


def paired_table(results: pd.DataFrame, metric: str, arm: str, baseline: str, condition: str = "") -> pd.DataFrame:
    """The two arms' values of one metric within one condition, one row per seed either arm has (NaN where an arm
    has no value), after checking that the arms, metric and condition exist."""
    if "condition" not in results:
        raise ValueError("the results need a 'condition' column ('' where there is none): build them with stats.tidy")
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
    return table[[arm, baseline]]


def paired_differences(results: pd.DataFrame, metric: str, arm: str, baseline: str, condition: str = "") -> pd.Series:
    """Per-seed `arm − baseline` for one metric within one condition, over the seeds where both arms have a value
    (`unpaired_seeds` names the others, which the verdict reports)."""
    pair = paired_table(results, metric, arm, baseline, condition)
    return (pair[arm] - pair[baseline]).dropna()


def unpaired_seeds(results: pd.DataFrame, metric: str, arm: str, baseline: str, condition: str = "") -> list[int]:
    """The seeds where one arm has a value and the other none (missing, or NaN): left out of the paired difference
    and reported, so a failed run cannot vanish from the count unseen."""
    pair = paired_table(results, metric, arm, baseline, condition)
    return [int(s) for s in pair.index[pair.isna().sum(axis=1) == 1]]


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean of `values` and its Student-t interval, mean ± t(1 − α/2, n − 1) · sd / √n; NaN interval with one value.

    Coverage is nominal for normal differences at any n, close to it for accuracy differences at n ≥ 5, and short
    (about 0.8 to 0.9 at n = 5) for strongly skewed differences or a collapse in some seeds only.
    """
    if isinstance(values, str | bytes) or values is None:
        raise TypeError(f"t_interval needs a sequence of numbers, got {values!r}")
    x = np.asarray(values)
    if x.ndim != 1:
        raise ValueError(f"t_interval needs a flat sequence of numbers, got shape {x.shape}")
    if x.size == 0:
        raise ValueError("t_interval needs at least one value")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_):
        raise TypeError(f"t_interval needs numbers, got {x.dtype} values")
    x = x.astype(float)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    half = float(scipy_stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def difference_table(
    results: pd.DataFrame, contrasts: Iterable[tuple[str, str, str, str]], digits: int = 4, level: float = 0.95
) -> pd.DataFrame:
    """One row per contrast `(metric, arm, baseline, condition)`: the mean over seeds of the paired difference
    `arm − baseline` with its Student-t interval (the verdict's rule, for comparisons that are not hypotheses),
    the seeds paired, how many lie above and below zero, and the three as text (`+0.0026 [+0.0012, +0.0040]`)."""
    rows = []
    for metric, arm, baseline, condition in contrasts:
        d = paired_differences(results, metric, arm, baseline, condition).to_numpy()
        if d.size == 0:
            raise ValueError(f"no seed has {metric!r} for both {arm!r} and {baseline!r} in condition {condition!r}")
        mean, low, high = t_interval(d, level)
        text = f"{mean:+.{digits}f}" + ("" if math.isnan(low) else f" [{low:+.{digits}f}, {high:+.{digits}f}]")
        rows.append(
            {
                "metric": metric,
                "condition": condition,
                "contrast": f"{arm} − {baseline}",
                "estimate": mean,
                "ci_low": low,
                "ci_high": high,
                "seeds": int(d.size),
                "above 0": int((d > 0).sum()),
                "below 0": int((d < 0).sum()),
                "difference": text,
            }
        )
    return pd.DataFrame(rows)


def evaluate(results: pd.DataFrame, hypotheses: Sequence[Hypothesis]) -> Verdict:
    """Measure every declared hypothesis on the tidy results and return the verdict."""
    names = [h.name for h in hypotheses]
    if len(set(names)) != len(names):
        raise ValueError(f"hypothesis names must differ, got {names}")
    effects = []
    for h in hypotheses:
        diffs = paired_differences(results, h.metric, h.arm, h.baseline, h.condition).to_numpy()
        unpaired = tuple(unpaired_seeds(results, h.metric, h.arm, h.baseline, h.condition))
        if diffs.size == 0:
            effects.append(Effect(h, math.nan, math.nan, math.nan, 0, 0, UNDEFINED, unpaired))
            continue
        estimate, low, high = t_interval(diffs)
        agree = int(sum(h.agrees(d) for d in diffs))
        effects.append(
            Effect(h, estimate, low, high, int(diffs.size), agree, outcome(h, estimate, low, high), unpaired)
        )
    return Verdict(effects)


@dataclass(frozen=True)
class Plan:
    """A power plan from design-seed differences: the expected 95% half-width at `n` seeds and the seeds needed
    for it to reach the sesoi."""

    sd: float
    n_design: int
    sesoi: float
    n: int
    half_width: float
    seeds_needed: int | None  # None: not within `max_seeds`

    def describe(self) -> str:
        """One line for the printed plan."""
        need = f"{self.seeds_needed} seeds reach ±{self.sesoi:g}" if self.seeds_needed else "no seed count reaches it"
        verdict = (
            "within reach" if self.half_width <= self.sesoi else "expected inconclusive unless the effect is large"
        )
        return (
            f"sd {self.sd:.3f} over {self.n_design} design seeds: expected half-width ±{self.half_width:.3f} at "
            f"{self.n} seeds (sesoi {self.sesoi:g}: {verdict}); {need}"
        )


def expected_half_width(sd: float, n: int, level: float = 0.95) -> float:
    """The median 95% t half-width at `n` seeds when the differences have standard deviation `sd`: the sample sd's
    median is sd · √(χ²₍ₙ₋₁₎ median / (n − 1))."""
    if n < 2:
        return math.inf
    t = scipy_stats.t.ppf(0.5 + level / 2, n - 1)
    return float(t * sd * math.sqrt(scipy_stats.chi2.median(n - 1) / (n - 1)) / math.sqrt(n))


def plan_seeds(differences: Sequence[float], sesoi: float, n: int = 6, max_seeds: int = 1000) -> Plan:
    """From a design run's per-seed differences, the expected half-width at `n` seeds and the smallest seed count
    whose expected half-width is at most `sesoi`."""
    if not sesoi > 0:
        raise ValueError(f"sesoi must be positive, got {sesoi!r}")
    x = np.asarray(differences, dtype=float)
    x = x[~np.isnan(x)]
    if x.size < 2:
        raise ValueError(f"a plan needs the differences of at least two design seeds, got {x.size}")
    sd = float(x.std(ddof=1))
    needed = next((k for k in range(2, max_seeds + 1) if expected_half_width(sd, k) <= sesoi), None)
    return Plan(sd, int(x.size), float(sesoi), int(n), expected_half_width(sd, n), needed)
