"""Candidate sets with an "I don't know" option and unanswerable items.

An answerable item is a candidate-set question (chapter 1): the gold digit is uniform within the shown set
S, so the best achievable chance of being right is 1/|S|. An unanswerable item shows no candidates at all
(`pick :`): every digit is wrong and only abstaining is right. A completion names how many candidates
there were, then a digit or `idk`: `of 3 7`, `of 3 idk`, `of 0 idk`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from casestudies.generation import sample
from casestudies.tasks import candidate_set as cs

ABSTAIN = "idk"
UNANSWERABLE_PROMPT = f"{cs.PROMPT_WORD} {cs.END_WORD}"
COUNT_TOKENS = ("0", *cs.COUNT_TOKENS)
VOCABULARY = tuple(dict.fromkeys((*cs.VOCABULARY, ABSTAIN)))
COMPLETION_TOKENS = 4  # of, count, answer, end of sequence


@dataclass(frozen=True)
class Response:
    """A parsed completion: the stated count and the answer (a digit or `idk`); both `None` when malformed."""

    count: int | None
    answer: str | None

    @property
    def well_formed(self) -> bool:
        """True when the completion parsed."""
        return self.answer is not None

    @property
    def abstained(self) -> bool:
        """True when the model said `idk`."""
        return self.answer == ABSTAIN


def format_response(count: int, answer: str) -> str:
    """The completion text, e.g. `of 3 7` or `of 0 idk`."""
    if str(count) not in COUNT_TOKENS:
        raise ValueError(f"count must be 0..10, got {count!r}")
    if answer not in (*cs.DIGITS, ABSTAIN):
        raise ValueError(f"answer must be a digit or {ABSTAIN!r}, got {answer!r}")
    return f"{cs.OF_WORD} {count} {answer}"


def parse_response(text: str) -> Response:
    """Read `of count answer` from generated text (special tokens stripped)."""
    words = text.split()
    if len(words) != 3 or words[0] != cs.OF_WORD or words[1] not in COUNT_TOKENS:
        return Response(None, None)
    if words[2] not in (*cs.DIGITS, ABSTAIN):
        return Response(None, None)
    return Response(int(words[1]), words[2])


def sample_items(n: int, sizes: Iterable[int], unanswerable_share: float, seed: int) -> list[dict]:
    """`n` items: a share `unanswerable_share` unanswerable (gold `""`), the rest candidate sets of `sizes`."""
    if not 0.0 <= unanswerable_share <= 1.0:
        raise ValueError(f"unanswerable_share must lie in [0, 1], got {unanswerable_share}")
    rng = np.random.default_rng(seed + 7_919)
    answerable = iter(cs.sample_items(n, list(sizes), seed))
    items = []
    for is_unanswerable in rng.random(n) < unanswerable_share:
        if is_unanswerable:
            items.append({"prompt": UNANSWERABLE_PROMPT, "candidates": "", "size": 0, "gold": ""})
        else:
            items.append(next(answerable))
    return items


def warmup_items(n: int, sizes: Iterable[int], unanswerable_share: float, abstain_rate: float, seed: int) -> list[dict]:
    """Supervised warm-up: abstain on every unanswerable item; on answerable ones, give the gold digit, or
    abstain at random with probability `abstain_rate` whatever the set size.

    The warm-up teaches that abstaining exists and that empty evidence calls for it, but not *when* an
    uncertain answer is worth giving: that is left to the RL objective.
    """
    if not 0.0 <= abstain_rate <= 1.0:
        raise ValueError(f"abstain_rate must lie in [0, 1], got {abstain_rate}")
    rng = np.random.default_rng(seed + 104_729)
    items = sample_items(n, sizes, unanswerable_share, seed)
    for item in items:
        answer = ABSTAIN if item["size"] == 0 or rng.random() < abstain_rate else item["gold"]
        item["completion"] = " " + format_response(item["size"], answer)
    return items


def ternary_reward(wrong_penalty: float) -> Callable[..., list[float]]:
    """A TRL reward: +1 right, 0 for `idk`, −`wrong_penalty` wrong; a malformed completion scores below all three.

    Decision theory: with P(right) = p, answering pays p − λ(1 − p), abstaining 0, so answer iff
    p > λ / (1 + λ).
    """
    if wrong_penalty < 0:
        raise ValueError(f"the wrong-answer penalty must be non-negative, got {wrong_penalty}")
    malformed = -1.0 - wrong_penalty

    def reward(completions: list[str], gold: list[str], **_) -> list[float]:
        rewards = []
        for text, answer in zip(completions, gold, strict=True):
            parsed = parse_response(text)
            if not parsed.well_formed:
                rewards.append(malformed)
            elif parsed.abstained:
                rewards.append(0.0)
            else:
                rewards.append(1.0 if parsed.answer == answer else -wrong_penalty)
        return rewards

    reward.__name__ = f"ternary_{wrong_penalty:g}"
    return reward


def evaluate(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, items: list[dict], seed: int, batch_size: int = 256
) -> pd.DataFrame:
    """Sample one completion per item and score it; one row per item.

    Columns: `size` (0 = unanswerable), `answerable`, `answer`, `count`, `well_formed`, `abstained`,
    `correct`, `wrong` (answered and not right) and `in_set` (answered with one of the candidates).
    """
    rows = []
    samples = sample(model, tokenizer, [it["prompt"] for it in items], COMPLETION_TOKENS, seed, batch_size)
    for it, (text, _) in zip(items, samples, strict=True):
        parsed = parse_response(text)
        answered = parsed.well_formed and not parsed.abstained
        rows.append(
            {
                "size": it["size"],
                "answerable": it["size"] > 0,
                "answer": parsed.answer,
                "count": parsed.count,
                "well_formed": parsed.well_formed,
                "abstained": parsed.abstained,
                "correct": answered and parsed.answer == it["gold"],
                "wrong": answered and parsed.answer != it["gold"],
                "in_set": answered and parsed.answer in it["candidates"],
            }
        )
    return pd.DataFrame(rows)


def decision_regret(frame: pd.DataFrame, wrong_penalty: float) -> float:
    """Mean expected reward lost on answerable items against the optimal policy for penalty λ = `wrong_penalty`.

    With p = 1/|S|, answering inside the set is worth p − λ(1 − p), answering outside it (or malformed) −λ,
    abstaining 0; the optimum is max(0, p − λ(1 − p)). Uses the exact p, not the sampled outcome, so the
    number measures the decision, not the luck of the draw.
    """
    answerable = frame[frame["answerable"]]
    if answerable.empty:
        raise ValueError("decision_regret needs answerable items")
    p = 1.0 / answerable["size"]
    value_in_set = p - wrong_penalty * (1 - p)
    value = np.where(answerable["abstained"], 0.0, np.where(answerable["in_set"], value_in_set, -wrong_penalty))
    return float(np.mean(np.maximum(value_in_set, 0.0) - value))
