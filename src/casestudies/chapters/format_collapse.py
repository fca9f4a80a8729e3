"""Chapter 5's measurements: what RL did to the format mix, turned into the numbers its hypotheses test.

The notebook keeps the experiment (pre-training on a mix, the RL arms, the shuffled-reward control); the functions
here read sampled solutions, imposed-format accuracies and share tables, and are tested on crafted completions.
Size is a column (`condition`: "small", "large", or "both sizes" for the per-seed mean over sizes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from casestudies.generation import completion_logprobs, sample
from casestudies.tasks.formats import (
    FIRST_WORDS,
    FORMATS,
    MAX_COMPLETION_TOKENS,
    OTHER,
    correctness_reward,
    final_answer,
    format_entropy,
    format_of,
    pass_at_k,
)

BOTH = "both sizes"
SHARES = [f"share_{f}" for f in FORMATS]


def solution_summary(texts: Sequence[str], golds: Sequence[str], samples: int) -> dict[str, float]:
    """Format shares (malformed as `share_other`), the entropy of the well-formed formats (bits), pass@1 and
    pass@`samples` of completions grouped `samples` per problem, in problem order."""
    if samples < 1 or len(texts) != len(golds) or len(texts) % samples:
        raise ValueError(f"need the same number of texts and golds, a multiple of samples={samples}")
    correct = np.array(correctness_reward(list(texts), list(golds))).reshape(-1, samples)
    formats = [format_of(t) for t in texts]
    well_formed = [f for f in formats if f != OTHER]
    passk = float(np.mean([pass_at_k(samples, int(c), samples) for c in correct.sum(axis=1)]))
    return {
        "pass@1": float(correct.mean()),
        f"pass@{samples}": passk,
        "headroom": passk - float(correct.mean()),
        "format_entropy": format_entropy(well_formed) if well_formed else math.nan,
        **{f"share_{f}": float(np.mean([x == f for x in formats])) for f in (*FORMATS, OTHER)},
    }


def measure(model, reference, tokenizer, held_out: Sequence[dict], samples: int, seed: int) -> dict[str, float]:
    """`solution_summary` of `samples` sampled solutions per held-out problem, plus the KL to `reference` (nats
    per solution, estimated on the model's own samples)."""
    prompts = [p["prompt"] for p in held_out for _ in range(samples)]
    golds = [p["gold"] for p in held_out for _ in range(samples)]
    texts = [t for t, _ in sample(model, tokenizer, prompts, MAX_COMPLETION_TOKENS, seed=seed)]
    kl = (
        (
            completion_logprobs(model, tokenizer, prompts, texts)
            - completion_logprobs(reference, tokenizer, prompts, texts)
        )
        .mean()
        .item()
    )
    return {**solution_summary(texts, golds, samples), "kl": kl}


def forced_accuracy(model, tokenizer, held_out: Sequence[dict], samples: int, seed: int) -> dict[str, float]:
    """Accuracy in each format when the format is imposed by writing its first word after the prompt:
    the model's competence per format, the mechanism's a_f."""
    out = {}
    batch = list(held_out) * samples
    for fmt, word in FIRST_WORDS.items():
        texts = [
            t
            for t, _ in sample(
                model, tokenizer, [p["prompt"] + " " + word for p in batch], MAX_COMPLETION_TOKENS, seed=seed
            )
        ]
        out[fmt] = float(
            np.mean([final_answer(word + " " + t) == p["gold"] for t, p in zip(texts, batch, strict=True)])
        )
    return out


def format_kl(shares: Mapping[str, float], reference: Mapping[str, float]) -> float:
    """KL (nats) from the reference's well-formed format shares to these: how far the *choice of format* moved,
    apart from the answers. Both are renormalised over the well-formed formats; NaN when either has none."""
    p = np.array([shares[s] for s in SHARES], dtype=float)
    q = np.array([reference[s] for s in SHARES], dtype=float)
    if p.sum() <= 0 or q.sum() <= 0:
        return math.nan
    p, q = p / p.sum(), q / q.sum()
    inside = p > 0
    if np.any(q[inside] == 0):
        return math.inf
    return float(np.sum(p[inside] * np.log(p[inside] / q[inside])))


def selection_points(forced: pd.DataFrame, table: pd.DataFrame, arms: Sequence[str]) -> pd.DataFrame:
    """One row per format, size, seed and arm: the accuracy advantage before RL, a_f − ā (imposed-format accuracy
    minus the share-weighted mean), against the change in share among well-formed solutions.

    `forced` has size, seed and one accuracy column per format; `table` has size, seed, stage ("pretrained" and
    each of `arms`) and the `share_<format>` columns."""
    shares = table.set_index(["size", "seed", "stage"])[SHARES]
    shares = shares.div(shares.sum(axis=1), axis=0)
    points = []
    for row in forced.itertuples():
        start = shares.loc[(row.size, row.seed, "pretrained")].to_numpy()
        accuracy = np.array([getattr(row, f) for f in FORMATS])
        gap = accuracy - start @ accuracy
        for arm in arms:
            change = shares.loc[(row.size, row.seed, arm)].to_numpy() - start
            points += [
                {
                    "size": row.size,
                    "seed": row.seed,
                    "arm": arm,
                    "format": f,
                    "share before": start[i],
                    "accuracy before": accuracy[i],
                    "a_f − ā": gap[i],
                    "Δshare": change[i],
                }
                for i, f in enumerate(FORMATS)
            ]
    return pd.DataFrame(points)


def selection_table(points: pd.DataFrame) -> pd.DataFrame:
    """Per arm and seed (over both sizes' points): the least-squares slope of Δshare on a_f − ā (H3's metric,
    `replicator_slope`) and Spearman's rank correlation, which one seed's near-tied formats cannot swing."""

    def fit(d: pd.DataFrame) -> pd.Series:
        slope = np.polyfit(d["a_f − ā"], d["Δshare"], 1)[0]
        return pd.Series(
            {
                "replicator_slope": float(slope),
                "rank correlation": float(spearmanr(d["a_f − ā"], d["Δshare"]).statistic),
            }
        )

    return points.groupby(["arm", "seed"])[["a_f − ā", "Δshare"]].apply(fit).reset_index()


def winners(forced: pd.DataFrame, table: pd.DataFrame, arms: Sequence[str]) -> pd.DataFrame:
    """Per size and seed: accuracy in each imposed format before RL, the most accurate format, and for each arm
    the format that dominates after it and that format's share."""
    out = forced.set_index(["size", "seed"])[list(FORMATS)].copy()
    out.columns = [f"acc. before: {f}" for f in FORMATS]
    out["most accurate before RL"] = forced.set_index(["size", "seed"])[list(FORMATS)].idxmax(axis=1)
    after = table.set_index(["size", "seed", "stage"])[SHARES]
    for arm in arms:
        shares = after.xs(arm, level="stage").reindex(out.index)
        out[f"winner after {arm}"] = shares.idxmax(axis=1).str.removeprefix("share_")
        out[f"its share ({arm})"] = shares.max(axis=1)
    return out


def winner_margins(table: pd.DataFrame, n_solutions: int, stage: str) -> pd.Series:
    """Per size and seed after `stage`: whether the top format's share exceeds the second's by more than two
    standard errors of their difference (multinomial, `n_solutions` sampled solutions); a run where it does
    not has no clear winner."""
    shares = table[table["stage"] == stage].set_index(["size", "seed"])[SHARES]
    top = np.sort(shares.to_numpy(), axis=1)[:, ::-1]
    first, second = top[:, 0], top[:, 1]
    se = np.sqrt((first + second - (first - second) ** 2) / n_solutions)
    return pd.Series(first - second > 2 * se, index=shares.index, name="clear winner")


def across_sizes(records: Sequence[dict], metrics: Sequence[str]) -> list[dict]:
    """Records of the per-seed mean over sizes ("both sizes") of `metrics`, for every arm that both sizes ran.

    The records are {arm, seed, condition (a size), metric: value}; an arm only one size ran makes no row."""
    frame = pd.DataFrame(records)
    sizes = frame["condition"].nunique()
    out = []
    for (arm, seed), group in frame.groupby(["arm", "seed"], sort=False):
        if group["condition"].nunique() == sizes:
            out.append({"arm": arm, "seed": seed, "condition": BOTH, **{m: float(group[m].mean()) for m in metrics}})
    return out


def reference_rows(seeds: Sequence[int], golds: Mapping[int, Sequence[str]], conditions: Sequence[str]) -> list[dict]:
    """Two reference rows per seed and condition: an even three-way mix (the largest format entropy) and always
    giving the held-out problems' most common answer (the pass@1 of a model that ignores the question)."""
    rows = []
    for seed in seeds:
        common = pd.Series(list(golds[seed])).value_counts(normalize=True).iloc[0]
        for condition in conditions:
            rows += [
                {
                    "arm": "reference·even mix",
                    "seed": seed,
                    "condition": condition,
                    "format_entropy": math.log2(len(FORMATS)),
                },
                {"arm": "reference·most common answer", "seed": seed, "condition": condition, "pass@1": float(common)},
            ]
    return rows
