"""Chapter 11's measurements: each seed's held-out Countdown problems, a trained model's greedy, sampled and
forced-dead-end traces judged and summarised, the reference policies, and the rule for a run that did not train.

The notebook keeps what defines the experiment (the training traces of each arm); everything here turns a trained
model into the numbers its hypotheses test. The shares themselves come from `countdown.summarize`, tested on
hand-written traces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from casestudies.runs import stream, torch_seed
from casestudies.tasks import countdown
from casestudies.tasks.countdown import Problem

MAX_NEW = 60  # words: enough for three dead ends and a solution


@dataclass(frozen=True)
class Tests:
    """One seed's held-out problems: greedy traces on every solvable and unsolvable one, sampled traces on a
    smaller mix of both (`sampled`)."""

    solvable: list[Problem]
    unsolvable: list[Problem]
    sampled: list[Problem]

    @property
    def greedy(self) -> list[Problem]:
        """Every held-out problem, the solvable ones first."""
        return self.solvable + self.unsolvable


def test_set(
    train: Sequence[Problem], seed: int, n_solvable: int, n_unsolvable: int, n_sampled: int, unsolvable_share: float
) -> Tests:
    """The seed's held-out problems, disjoint from `train`, drawn from its `test` stream; the sampled ones are the
    first of each kind, an `unsolvable_share` of them without a solution."""
    solvable, unsolvable = countdown.held_out(train, n_solvable, n_unsolvable, stream(seed, "test"))
    k = round(n_sampled * unsolvable_share)
    if n_sampled - k > n_solvable or k > n_unsolvable:
        raise ValueError(f"{n_sampled} sampled problems need {n_sampled - k} solvable and {k} unsolvable ones")
    return Tests(solvable, unsolvable, solvable[: n_sampled - k] + unsolvable[:k])


def build(tokenizer, width: int, depth: int, heads: int, seed: int):
    """A fresh model of the chapter's size, initialised from the seed's `model` stream."""
    from casestudies.models import tiny_causal_lm

    return tiny_causal_lm(
        tokenizer, width=width, depth=depth, heads=heads, max_positions=160, seed=torch_seed(seed, "model")
    )


def greedy_summary(model, tokenizer, problems: Sequence[Problem]) -> dict[str, float]:
    """`countdown.summarize` of the model's greedy traces on `problems`."""
    from casestudies.generation import greedy

    judged = countdown.judge_all(problems, greedy(model, tokenizer, [p.prompt for p in problems], MAX_NEW))
    return countdown.summarize(judged, judged["solvable"])


def forced_prefixes(problems: Sequence[Problem], rng: np.random.Generator) -> list[tuple[Problem, str]]:
    """For each problem with a wrong path, one of them drawn by `rng` and a comma: the point where a training trace
    would write `BACK`."""
    out = []
    for p in problems:
        wrong = p.dead_ends()
        if wrong:
            out.append((p, countdown.steps(wrong[int(rng.integers(len(wrong)))]) + " ,"))
    return out


def evaluate(model, tokenizer, tests: Tests, samples: int, seed: int) -> dict[str, float]:
    """Every measure of one trained model. Greedy on all held-out problems (`countdown.summarize`'s shares, its
    claim precision as `greedy_claim_precision`); `samples` sampled traces (temperature 1) per sampled problem:
    `claim_precision`, `sampled_solve_rate`, `sampled_first_failed`, `sampled_recovery`; greedy traces after a
    forced dead end on the solvable problems: `forced_noticed` (BACK or NONE next), `forced_recovery` (ends
    solved), `forced_false_claim`."""
    from casestudies.generation import greedy, sample

    out = greedy_summary(model, tokenizer, tests.greedy)
    out["greedy_claim_precision"] = out.pop("claim_precision")
    problems = list(tests.sampled) * samples
    texts = [t for t, _ in sample(model, tokenizer, [p.prompt for p in problems], MAX_NEW, torch_seed(seed, "sample"))]
    sampled = countdown.summarize(countdown.judge_all(problems, texts), [p.solvable for p in problems])
    out |= {
        "claim_precision": sampled["claim_precision"],
        "sampled_solve_rate": sampled["solve_rate"],
        "sampled_first_failed": sampled["first_failed"],
        "sampled_recovery": sampled["natural_recovery"],
    }
    forced = forced_prefixes(tests.solvable, stream(seed, "forced"))
    continued = greedy(model, tokenizer, [f"{p.prompt} {prefix}" for p, prefix in forced], MAX_NEW)
    judged = countdown.judge_all(
        [p for p, _ in forced], [f"{pre} {t}" for (_, pre), t in zip(forced, continued, strict=True)]
    )
    return out | {
        "forced_noticed": float(judged["noticed"].mean()),
        "forced_recovery": float((judged["outcome"] == "solved").mean()),
        "forced_false_claim": float((judged["outcome"] == "false claim").mean()),
    }


REFERENCES = {"reference·solver": countdown.solver, "reference·always NONE": countdown.always_none}


def references(tests: Tests, seed: int) -> list[dict]:
    """The reference policies' rows for one seed, judged like the models on the same held-out problems (their
    greedy and sampled measures coincide: they are deterministic)."""
    rows = []
    for name, policy in REFERENCES.items():
        judged = countdown.judge_all(tests.greedy, [policy(p) for p in tests.greedy])
        row = countdown.summarize(judged, judged["solvable"])
        rows.append({"arm": name, "seed": seed, **row, "sampled_solve_rate": row["solve_rate"]})
    return rows


def final_loss(history: pd.DataFrame, tail: float = 0.1) -> float:
    """The mean training loss over the last `tail` of the logged steps (one step's loss is noisy)."""
    losses = history["loss"].dropna()
    if losses.empty:
        raise ValueError("the training history has no logged loss")
    return float(losses.iloc[-max(1, round(tail * len(losses))) :].mean())


def untrained(runs: pd.DataFrame, factor: float = 2.0) -> pd.DataFrame:
    """The runs (rows with `arm`, `seed`, `final_loss`) that did not train: a final loss above `factor` times the
    median of its arm's runs, with that median beside it."""
    median = runs.groupby("arm")["final_loss"].transform("median")
    flagged = runs.assign(arm_median=median)
    return flagged[flagged["final_loss"] > factor * flagged["arm_median"]][["arm", "seed", "final_loss", "arm_median"]]
