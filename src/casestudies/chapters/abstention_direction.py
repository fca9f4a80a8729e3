"""Chapter 2's measurements: what a trained model does on empty evidence and on answerable questions, with the
abstention measured exactly from its next-token probabilities, and the fixed policies it is compared with.

The notebook keeps what defines the experiment (the λ sweep, the arms, the RL data); everything here turns a
trained model or a log of its samples into the numbers the hypotheses test, and is tested on hand-worked frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from casestudies.tasks import abstention as ab


def abstain_probability(model, tokenizer, prompts: list[str], batch_size: int = 256) -> np.ndarray:
    """For each prompt, the probability that the model's completion starts `of c idk` for some count c: its
    abstention, exactly, summed over the count word instead of sampled once."""
    from casestudies.generation import completion_logprobs

    completions = [" " + ab.format_response(int(c), ab.ABSTAIN) for c in ab.COUNT_TOKENS]
    unique = list(dict.fromkeys(prompts))  # evaluation sets repeat prompts: each is scored once
    logp = completion_logprobs(
        model,
        tokenizer,
        [p for p in unique for _ in completions],
        [c for _ in unique for c in completions],
        batch_size=batch_size,
    )
    exact = torch.logsumexp(logp.reshape(len(unique), len(completions)), dim=1).exp().cpu().numpy()
    by_prompt = dict(zip(unique, exact, strict=True))
    return np.array([by_prompt[p] for p in prompts])


def summarise(pred: pd.DataFrame) -> dict:
    """One arm (or fixed policy) and seed, from `abstention.evaluate`'s frame with an exact `p_abstain` column.

    On empty evidence: `recall` (exact) and `recall_sampled`, `guessed_empty` (sampled). On answerable questions
    (sampled unless said): `over_abstention`, `abstain_certain` (exact, one-candidate questions, which the
    optimum always answers) and `abstain_certain_sampled`, `decline_size3` (exact), `size3_lean` (exact: size 3's
    abstention minus the mean of sizes 2 and 5), `accuracy_answered`. `malformed` over all questions.
    """
    empty, answerable = pred[~pred["answerable"]], pred[pred["answerable"]]
    if empty.empty or answerable.empty:
        raise ValueError("summarise needs empty-evidence and answerable questions")
    answered = answerable[answerable["well_formed"] & ~answerable["abstained"]]
    exact = answerable.groupby("size")["p_abstain"].mean()
    sampled = answerable.groupby("size")["abstained"].mean()
    missing = {1, 2, 3, 5} - set(exact.index)
    if missing:
        raise ValueError(f"summarise needs questions of sizes 1, 2, 3 and 5; missing {sorted(missing)}")
    return {
        "recall": float(empty["p_abstain"].mean()),
        "recall_sampled": float(empty["abstained"].mean()),
        "guessed_empty": float((empty["well_formed"] & ~empty["abstained"]).mean()),
        "malformed": float((~pred["well_formed"]).mean()),
        "over_abstention": float(answerable["abstained"].mean()),
        "abstain_certain": float(exact[1]),
        "abstain_certain_sampled": float(sampled[1]),
        "decline_size3": float(exact[3]),
        "size3_lean": float(exact[3] - (exact[2] + exact[5]) / 2),
        "accuracy_answered": float(answered["correct"].mean()) if len(answered) else np.nan,
    }


def regrets(pred: pd.DataFrame, lambdas: Sequence[float], condition) -> list[dict]:
    """One arm and seed: the decision regret at every cost in `lambdas`, one record per cost, named by
    `condition(λ)` (a condition of the tidy results)."""
    return [{"condition": condition(lam), "regret": ab.decision_regret(pred, lam)} for lam in lambdas]


def fixed_policy(items: list[dict], abstain: bool) -> pd.DataFrame:
    """The evaluation frame of a policy that always abstains, or always answers with a candidate (its
    correctness unknown, as only the decision is scored); its abstention is certain either way."""
    frame = pd.DataFrame(items)
    answerable = frame["size"] > 0
    return frame.assign(
        answerable=answerable,
        well_formed=True,
        abstained=abstain,
        p_abstain=float(abstain),
        in_set=answerable & (not abstain),
        correct=np.nan,
    )


def trace(log: pd.DataFrame) -> pd.DataFrame:
    """Per RL step, the share of sampled completions that abstain on certain (one-candidate) prompts and on empty
    ones, from a reward log with `step`, `prompt` and `abstained`."""
    size = log["prompt"].str.count(r"\b\d\b")  # the candidates are the prompt's single digits
    kinds = {"certain": size == 1, "empty evidence": size == 0}
    return pd.concat(
        [
            log[mask].groupby("step", as_index=False)["abstained"].mean().assign(prompts=kind)
            for kind, mask in kinds.items()
        ],
        ignore_index=True,
    )
