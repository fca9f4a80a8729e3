"""The format task: problem invariants, solutions, the format check, the reward, entropy and pass@k."""

import math

import numpy as np
import pytest
import torch

from casestudies.generation import completion_logprobs
from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks.formats import (
    FIRST_WORDS,
    FORMATS,
    MAX_COMPLETION_TOKENS,
    VOCABULARY,
    correctness_reward,
    final_answer,
    format_entropy,
    format_of,
    pass_at_k,
    pretraining_items,
    problems,
    replicator_change,
    softmax_pg_change,
    solution,
)


def test_problems_are_well_formed_and_never_negative():
    items = problems(2000, seed=0)
    for it in items:
        a, b, c = it["numbers"]
        assert all(1 <= v <= 9 for v in (a, b, c))
        middle = a + it["ops"][0] * b
        assert middle >= 0 and int(it["gold"]) == middle + it["ops"][1] * c >= 0
        assert it["prompt"].split()[0] == "has" and it["prompt"].endswith(":")
    assert problems(5, seed=1) == problems(5, seed=1)
    harder = problems(2000, seed=0, max_operand=19)
    assert max(max(it["numbers"]) for it in harder) == 19 and min(min(it["numbers"]) for it in harder) == 1
    with pytest.raises(ValueError, match="max_operand"):
        problems(5, seed=0, max_operand=34)


def test_solutions_by_hand_and_the_format_check():
    p = {"numbers": [3, 4, 2], "ops": [1, -1], "gold": "5"}
    assert solution(p, "steps") == "so 3 + 4 = 7 then 7 - 2 = 5 ans 5"
    assert solution(p, "code") == "x = 3 + 4 - 2 ; ans 5"
    assert solution(p, "direct") == "ans 5"
    assert [format_of(solution(p, f)) for f in FORMATS] == list(FORMATS)
    assert all(solution(p, f).split()[0] == FIRST_WORDS[f] for f in FORMATS)
    assert format_of("") == format_of("5 ans 5") == "other"
    with pytest.raises(ValueError, match="unknown format"):
        solution(p, "latex")


def test_every_solution_fits_the_vocabulary_and_the_length_budget():
    tokenizer = word_tokenizer(VOCABULARY)
    for it in problems(300, seed=2) + problems(300, seed=2, max_operand=33):
        for f in FORMATS:
            ids = tokenizer(solution(it, f)).input_ids
            assert tokenizer.unk_token_id not in ids and len(ids) + 1 <= MAX_COMPLETION_TOKENS


def test_reward_reads_only_the_final_answer():
    completions = ["so 3 + 4 = 7 then 7 - 2 = 5 ans 5", "x = 3 + 4 - 2 ; ans 6", "ans 5", "so 3 + 4 = 7", "5", "ans"]
    assert correctness_reward(completions, gold=["5"] * 6) == [1.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    assert final_answer("ans 4 ans 5") == "5"


def test_pretraining_mix_follows_the_stated_shares():
    items = pretraining_items(6000, seed=3, mix={"steps": 0.5, "code": 0.3, "direct": 0.2})
    shares = {f: np.mean([it["format"] == f for it in items]) for f in FORMATS}
    assert shares == pytest.approx({"steps": 0.5, "code": 0.3, "direct": 0.2}, abs=0.02)
    assert all(format_of(it["completion"]) == it["format"] for it in items)
    with pytest.raises(ValueError, match="sum"):
        pretraining_items(10, seed=0, mix={"steps": 0.5, "code": 0.2})


def test_entropy_and_pass_at_k_by_hand():
    assert format_entropy(["steps", "code", "direct"] * 5) == pytest.approx(math.log2(3))
    assert format_entropy(["code"] * 7) == 0.0
    assert format_entropy(["code", "direct"]) == pytest.approx(1.0)
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(4, 2))  # = 0.5
    assert pass_at_k(5, 4, 2) == 1.0
    rng = np.random.default_rng(0)  # unbiased: matches the chance that k draws without replacement hit one
    draws = [rng.permutation([1] * 3 + [0] * 7)[:4].any() for _ in range(20000)]
    assert pass_at_k(10, 3, 4) == pytest.approx(np.mean(draws), abs=0.01)


def test_completion_logprobs_matches_a_hand_computed_sum_and_ignores_padding():
    tokenizer = word_tokenizer(VOCABULARY)
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    prompts, completions = ["has 3 gets 4 loses 2 :", "has 1 gets 1 gets 1 :"], ["ans 5", "x = 1 + 1 + 1 ; ans 3"]
    batch = completion_logprobs(model, tokenizer, prompts, completions)
    for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
        p_ids, c_ids = tokenizer(p).input_ids, tokenizer(c).input_ids
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([p_ids + c_ids])).logits[0], dim=-1)
        expected = sum(logp[len(p_ids) - 1 + j, t] for j, t in enumerate(c_ids))
        assert batch[i].item() == pytest.approx(expected.item(), abs=1e-4)


def test_expert_iteration_checker():
    from casestudies.exercises import ExerciseError, check_expert_iteration

    assert check_expert_iteration(lambda s, a: s * a / (s * a).sum()).startswith("ok")
    with pytest.raises(ExerciseError, match="proportional"):
        check_expert_iteration(lambda s, a: a / a.sum())  # forgets the current shares
    with pytest.raises(ExerciseError, match="sum to 1"):
        check_expert_iteration(lambda s, a: s * a)


def test_replicator_by_hand_and_as_one_round_of_expert_iteration():
    shares, acc = np.full(3, 1 / 3), np.array([0.4, 0.7, 0.5])  # mean accuracy 0.5333
    assert replicator_change(shares, acc) == pytest.approx([-0.0444, 0.0556, -0.0111], abs=1e-4)
    skewed = np.array([0.6, 0.1, 0.3])
    expert_iteration = skewed * acc / (skewed @ acc)
    assert replicator_change(skewed, acc) / (skewed @ acc) == pytest.approx(expert_iteration - skewed)
    with pytest.raises(ValueError, match="summing to 1"):
        replicator_change([0.5, 0.4, 0.2], acc)


def test_softmax_policy_gradient_matches_autograd_to_first_order():
    acc = torch.tensor([0.4, 0.7, 0.5], dtype=torch.float64)
    logits = torch.tensor([0.9, -0.4, 0.2], dtype=torch.float64, requires_grad=True)
    shares = torch.softmax(logits, 0)
    (shares @ acc).backward()  # the expected reward's gradient on the logits
    eps = 1e-6
    moved = torch.softmax(logits.detach() + eps * logits.grad, 0) - shares.detach()
    predicted = softmax_pg_change(shares.detach().numpy(), acc.numpy())
    assert (moved / eps).numpy() == pytest.approx(predicted, rel=1e-4)
    assert predicted.sum() == pytest.approx(0.0, abs=1e-12)
    # at an even mix it is the replicator scaled by the common share; otherwise common formats gain more
    even = np.full(3, 1 / 3)
    assert softmax_pg_change(even, acc.numpy()) == pytest.approx(replicator_change(even, acc.numpy()) / 3)
    tie = np.array([0.5, 0.5, 0.5])  # equal accuracies: no selection under either rule
    assert softmax_pg_change([0.6, 0.1, 0.3], tie) == pytest.approx([0, 0, 0])
