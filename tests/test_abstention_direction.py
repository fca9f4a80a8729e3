"""Chapter 2's measurements: exact abstention against step-by-step next-token probabilities, and the summary,
fixed policies and RL trace on hand-made frames."""

import numpy as np
import pandas as pd
import pytest

from casestudies.chapters.abstention_direction import abstain_probability, fixed_policy, summarise, trace
from casestudies.generation import next_token_probabilities, token_ids
from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks import abstention as ab


def test_exact_abstention_is_the_chain_of_next_token_probabilities():
    tokenizer = word_tokenizer(ab.VOCABULARY)
    model = tiny_causal_lm(tokenizer, width=16, depth=1, heads=2, seed=3)
    prompts = ["pick :", "pick 4 :", "pick 2 7 9 :", "pick 4 :"]  # a repeated prompt is scored once
    got = abstain_probability(model, tokenizer, prompts)
    of, idk = token_ids(tokenizer, (ab.cs.OF_WORD,))[0], token_ids(tokenizer, (ab.ABSTAIN,))[0]
    counts = token_ids(tokenizer, ab.COUNT_TOKENS)
    expected = []
    for prompt in prompts:
        first = next_token_probabilities(model, tokenizer, [prompt])[0, of]
        total = 0.0
        for count, count_id in zip(ab.COUNT_TOKENS, counts, strict=True):
            second = next_token_probabilities(model, tokenizer, [f"{prompt} of"])[0, count_id]
            third = next_token_probabilities(model, tokenizer, [f"{prompt} of {count}"])[0, idk]
            total += first * second * third
        expected.append(total)
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert got[1] == got[3]
    assert ((got > 0) & (got < 1)).all()


def frame(rows):
    """Evaluation rows: (size, abstained, p_abstain, well_formed, correct)."""
    return pd.DataFrame(
        [
            {"size": s, "answerable": s > 0, "abstained": a, "p_abstain": p, "well_formed": w, "correct": c}
            for s, a, p, w, c in rows
        ]
    )


def test_summarise_reads_exact_and_sampled_abstention_by_hand():
    pred = frame(
        [
            (0, True, 0.9, True, False),
            (0, False, 0.3, True, False),
            (0, False, 0.0, False, False),  # empty
            (1, True, 0.8, True, False),
            (1, False, 0.2, True, True),  # certain: exact 0.5, sampled 0.5
            (2, False, 0.1, True, True),
            (3, True, 0.7, True, False),
            (5, False, 0.3, True, False),
        ]
    )
    got = summarise(pred)
    assert got["recall"] == pytest.approx(0.4) and got["recall_sampled"] == pytest.approx(1 / 3)
    assert got["guessed_empty"] == pytest.approx(1 / 3) and got["malformed"] == pytest.approx(1 / 8)
    assert got["abstain_certain"] == pytest.approx(0.5) and got["abstain_certain_sampled"] == pytest.approx(0.5)
    assert got["decline_size3"] == pytest.approx(0.7) and got["size3_lean"] == pytest.approx(0.7 - 0.2)
    assert got["over_abstention"] == pytest.approx(2 / 5)
    assert got["accuracy_answered"] == pytest.approx(2 / 3)  # sizes 1, 2 and 5 answered, two right
    with pytest.raises(ValueError, match="sizes 1, 2, 3 and 5"):
        summarise(pred[pred["size"] != 5])


def test_fixed_policies_abstain_always_or_never():
    items = ab.sample_items(40, [1, 2, 3, 5], 0.3, seed=2)
    abstain, answer = fixed_policy(items, True), fixed_policy(items, False)
    assert summarise(abstain)["recall"] == 1.0 and summarise(abstain)["abstain_certain"] == 1.0
    assert summarise(answer)["recall"] == 0.0 and summarise(answer)["guessed_empty"] == 1.0
    assert ab.decision_regret(answer, 0.0) == pytest.approx(0.0)  # at λ = 0 answering is always optimal


def test_trace_is_the_share_declined_per_step_by_kind_of_prompt():
    log = pd.DataFrame(
        {
            "step": [0, 0, 0, 1, 1, 1],
            "prompt": ["pick 4 :", "pick 4 :", "pick :", "pick 4 :", "pick 2 3 :", "pick :"],
            "abstained": [True, False, True, True, True, False],
        }
    )
    got = trace(log).set_index(["prompts", "step"])["abstained"]
    assert got[("certain", 0)] == 0.5 and got[("certain", 1)] == 1.0
    assert got[("empty evidence", 0)] == 1.0 and got[("empty evidence", 1)] == 0.0
