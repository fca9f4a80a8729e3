"""Chapter 10's measurements: each seed's test sets (the held-out rule), one sampled episode per test problem
scored and summarised by condition, the demonstrations' reference rows, and the share of trained groups that
carried a learning signal.

The notebook keeps what defines the experiment (the reward, the selections, the arms); the calculator task's own
summaries (`summarize`, `recovery`) live in `casestudies.tasks.calculator`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from casestudies.runs import stream, torch_seed
from casestudies.tasks import calculator

TWO, FORCED, THREE = "two operations", "forced error", "three operations"  # the measurement's conditions


@dataclass(frozen=True)
class EvaluationSets:
    """One seed's test problems: `two`, every two-operation problem that is not one of its RL prompts;
    `forced`, positions in `two` of the problems probed again with a malformed first call (`prefixes`);
    `three`, three-operation problems, which RL never samples."""

    two: list[calculator.Problem]
    forced: list[int]
    prefixes: list[str]
    three: list[calculator.Problem]


def evaluation_sets(
    rl_prompts: Sequence[calculator.Problem], seed: int, probed: int, n_two: int | None = None
) -> EvaluationSets:
    """The held-out rule: test on every two-operation problem the seed's RL never prompts with (`n_two` of them,
    drawn from the seed's `held-out sample` stream, where a quick run cannot afford them all), on `probed` of those
    again with a forced error (the `forced error` stream), and on `probed` three-operation problems (the
    `three operations` stream)."""
    two = calculator.held_out(rl_prompts, operations=2)
    if n_two is not None:
        if not 0 < n_two <= len(two):
            raise ValueError(f"n_two must be between 1 and the {len(two)} held-out problems, got {n_two}")
        two = [two[i] for i in sorted(stream(seed, "held-out sample").choice(len(two), n_two, replace=False))]
    if not 0 < probed <= len(two):
        raise ValueError(f"probed must be between 1 and the {len(two)} held-out problems, got {probed}")
    rng = stream(seed, "forced error")
    forced = sorted(int(i) for i in rng.choice(len(two), probed, replace=False))
    prefixes = [calculator.forced_error(two[i], rng) for i in forced]
    three = calculator.problems(probed, 3, torch_seed(seed, "three operations"))
    return EvaluationSets(two, forced, prefixes, three)


def sample_scores(
    model,
    tokenizer,
    problems: Sequence[calculator.Problem],
    generator: torch.Generator,
    prefixes: list[str] | None = None,
) -> pd.DataFrame:
    """One sampled episode (temperature 1, the policy RL trains) per problem, the calculator replying, scored."""
    from casestudies.generation import sample_episodes

    prompts = [p.prompt for p in problems]
    episodes = sample_episodes(
        model, tokenizer, prompts, calculator.environment, calculator.max_words, generator, prefixes=prefixes
    )
    return calculator.score_table(problems, [e["text"] for e in episodes])


def measure(model, tokenizer, tests: EvaluationSets, seed: int) -> list[dict]:
    """Rows by condition for one trained model: `summarize` on the held-out two-operation problems and on the
    three-operation ones, and `recovery` on the forced-error problems against their own unforced episodes. The
    sampling comes from the seed's `evaluation` stream, the same in every arm."""
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(torch_seed(seed, "evaluation"))
    two = sample_scores(model, tokenizer, tests.two, generator)
    three = sample_scores(model, tokenizer, tests.three, generator)
    forced = sample_scores(model, tokenizer, [tests.two[i] for i in tests.forced], generator, tests.prefixes)
    return [
        {"condition": TWO, **calculator.summarize(two)},
        {"condition": THREE, **calculator.summarize(three)},
        {"condition": FORCED, **calculator.recovery(two.iloc[tests.forced], forced)},
    ]


def demonstrations(tests: EvaluationSets, malformed_rate: float, seed: int) -> list[dict]:
    """Reference rows: the warm-up's own teacher (`malformed_rate` of its demonstrations with one refused call) on
    the seed's test problems (the `reference demonstrations` stream), always right, so its error rates are what
    the warm-up imitated."""
    rng = stream(seed, "reference demonstrations")
    return [
        {
            "condition": condition,
            **calculator.summarize(
                calculator.score_table(problems, [calculator.teacher(p, malformed_rate, rng) for p in problems])
            ),
        }
        for condition, problems in ((TWO, tests.two), (THREE, tests.three))
    ]


def groups_with_signal(rewards: Sequence[float], group: int) -> float:
    """The share of trained groups (consecutive runs of `group` rewards, TRL's order) whose rewards are not all
    equal: the groups whose advantages are not all zero."""
    r = np.asarray(rewards, dtype=float)
    if group < 1 or r.size == 0 or r.size % group:
        raise ValueError(f"need a positive multiple of the group size {group} rewards, got {r.size}")
    return float((np.ptp(r.reshape(-1, group), axis=1) > 0).mean())
