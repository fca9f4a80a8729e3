"""Keyed digit tasks, chapter 7's drift metrics and chapter 9's multi-task measures: answers by hand, the rewards
on crafted completions, and
KL, entropy and the closest always-right distribution against scipy and brute force."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.stats import entropy as scipy_entropy

from casestudies.exercises import ExerciseError, check_novelty_reward, check_restricted
from casestudies.metrics.drift import entropy, forward_kl, parameter_distance, restricted
from casestudies.metrics.transfer import backward_transfer, expected_distinct
from casestudies.models import word_tokenizer
from casestudies.tasks import keyed_digits as kd


def test_answers_by_hand():
    assert kd.answers("sum", 3, 7) == (0,)
    assert kd.answers("dif", 3, 7) == (6,)
    assert kd.answers("max", 3, 7) == (7,)
    assert kd.answers("par", 3, 7) == (0, 2, 4, 6, 8)
    assert kd.answers("par", 2, 7) == (1, 3, 5, 7, 9)
    assert kd.answers("tri", 3, 7) == (1, 4, 7)  # 2·3 + 7 = 13 ≡ 1 (mod 3)
    assert kd.answers("tri", 1, 1) == (0, 3, 6, 9)
    with pytest.raises(ValueError, match="unknown task"):
        kd.answers("mul", 1, 2)
    with pytest.raises(ValueError, match="digits"):
        kd.answers("sum", 10, 2)


def test_inputs_cover_every_pair_once_and_draws_are_seeded():
    items = kd.inputs("par")
    assert len(items) == 100 and len({(i["a"], i["b"]) for i in items}) == 100
    assert items[37]["prompt"] == "par 3 7 =" and items[37]["correct"] == "02468"  # index 10 a + b
    assert all(i["prompt"].startswith("par ") for i in items)
    first = kd.draw(["sum", "par"], 500, seed=4)
    assert first == kd.draw(["sum", "par"], 500, seed=4) and first != kd.draw(["sum", "par"], 500, seed=5)
    assert {i["key"] for i in first} == {"sum", "par"}
    tokenizer = word_tokenizer(kd.VOCABULARY)
    assert tokenizer.unk_token_id not in tokenizer(" ".join(i["prompt"] for i in first)).input_ids
    with pytest.raises(ValueError, match="positive n"):
        kd.draw([], 5, seed=0)


def test_reward_on_crafted_completions():
    correct = ["02468", "02468", "02468", "7", "7"]
    completions = ["4", "4 5", "3", "= 7", ""]
    assert kd.correctness_reward(completions, correct) == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert [kd.parse(c) for c in completions] == [4, 4, 3, None, None]  # malformed is None, not wrong


def test_correct_mask_marks_the_right_digits():
    mask = kd.correct_mask(kd.inputs("tri")[:2])  # tri 0 0 and tri 0 1
    assert mask[0].nonzero()[0].tolist() == [0, 3, 6, 9] and mask[1].nonzero()[0].tolist() == [1, 4, 7]


def test_the_next_task_is_not_an_old_task_in_disguise():
    """Always giving an old task's answer earns `tri` only a few points more than a random digit does."""
    chance = kd.correct_mask(kd.inputs("tri")).mean()
    for key in ("sum", "dif", "max"):
        old = [kd.answers(key, i["a"], i["b"])[0] for i in kd.inputs("tri")]
        hits = np.mean([str(d) in i["correct"] for d, i in zip(old, kd.inputs("tri"), strict=True)])
        assert abs(hits - chance) < 0.05


def test_forward_kl_and_entropy_match_scipy():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(7), size=20), rng.dirichlet(np.ones(7), size=20)
    p[0, :3] = 0
    p[0] /= p[0].sum()  # outcomes the base never produces add nothing
    assert np.allclose(forward_kl(p, q), scipy_entropy(p, q, axis=1))
    assert np.allclose(entropy(q), scipy_entropy(q, axis=1))
    assert np.allclose(forward_kl(p, p), 0)
    assert forward_kl([0.5, 0.5], [1.0, 0.0])[0] == np.inf  # the model rules out what the base does
    with pytest.raises(ValueError, match="probability distribution"):
        forward_kl([0.5, 0.6], [0.5, 0.5])
    with pytest.raises(ValueError, match="shape"):
        forward_kl(p, q[:, :6] / q[:, :6].sum(1, keepdims=True))


def test_restricted_is_the_closest_always_right_distribution():
    p = np.array([0.5, 0.3, 0.2])
    allowed = np.array([True, False, True])
    assert np.allclose(restricted(p, allowed), [[0.5 / 0.7, 0, 0.2 / 0.7]])
    # brute force: minimise KL(q ‖ p) over distributions on the allowed outcomes
    rng = np.random.default_rng(1)
    for _ in range(5):
        p = rng.dirichlet(np.ones(6))
        allowed = np.array([True, True, False, True, False, False])

        def kl(logits, target=p[allowed]):
            q = np.exp(logits) / np.exp(logits).sum()
            return float(np.sum(q * (np.log(q) - np.log(target))))

        best = minimize(kl, np.zeros(allowed.sum()), method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12})
        q = np.exp(best.x) / np.exp(best.x).sum()
        assert np.allclose(restricted(p, allowed)[0, allowed], q, atol=1e-3)
        assert np.isclose(best.fun, -np.log(p[allowed].sum()), atol=1e-6)
    with pytest.raises(ValueError, match="no probability"):
        restricted([1.0, 0.0], [False, True])


def test_parameter_distance_by_hand():
    model = torch.nn.Linear(2, 1)
    reference = {k: v.clone() for k, v in model.state_dict().items()}
    assert parameter_distance(model, reference) == 0
    with torch.no_grad():
        model.weight += torch.tensor([[3.0, 0.0]])
        model.bias += 4.0
    assert parameter_distance(model, reference) == pytest.approx(5.0)
    with pytest.raises(KeyError, match="bias"):
        parameter_distance(model, {"weight": reference["weight"]})


def test_check_restricted_accepts_the_rule_and_names_the_usual_mistakes():
    assert check_restricted(lambda p, ok: np.where(ok, p, 0) / p[ok].sum()).startswith("ok")
    with pytest.raises(ExerciseError, match="renormalise"):
        check_restricted(lambda p, ok: np.where(ok, p, 0))
    with pytest.raises(ExerciseError, match="uniform"):
        check_restricted(lambda p, ok: ok / ok.sum())
    with pytest.raises(ExerciseError, match="not allowed"):
        check_restricted(lambda p, ok: p)
    with pytest.raises(ExerciseError, match="raised"):
        check_restricted(lambda p, ok: p[ok] / 0 if ok.all() else 1 / 0)


def test_novelty_reward_pays_one_point_per_distinct_right_answer_in_each_group():
    rewards = kd.novelty_reward([" 2", " 2", " 4", " 7", " 3", " 3", "x", " 8"], ["02468"] * 4 + ["369"] * 4, 4)
    assert rewards == [0.5, 0.5, 1.0, 0.0, 0.5, 0.5, 0.0, 0.0]
    assert sum(rewards[:4]) == 2 and sum(rewards[4:]) == 1  # distinct right answers per group
    with pytest.raises(ValueError, match="groups of 3"):
        kd.novelty_reward([" 1"] * 4, ["1"] * 4, 3)


def test_novelty_rewards_a_spread_over_the_right_answers_most():
    """Expected reward per completion, by simulation: uniform over the right answers beats a single favourite."""
    rng = np.random.default_rng(0)

    def mean_reward(p):
        draws = rng.choice(10, size=(4000, 8), p=p)
        return np.mean([kd.novelty_reward([f" {d}" for d in row], ["02468"] * 8, 8) for row in draws])

    spread = np.where(np.arange(10) % 2 == 0, 0.2, 0.0)
    assert mean_reward(spread) > mean_reward(np.eye(10)[4]) + 0.3


def test_backward_transfer_against_a_hand_worked_matrix():
    r = [[0.8, 0.1, 0.0], [0.6, 0.9, 0.2], [0.5, 0.7, 0.9]]
    assert backward_transfer(r) == pytest.approx(((0.5 - 0.8) + (0.7 - 0.9)) / 2)
    assert backward_transfer([[1, 0], [1, 1]]) == 0
    with pytest.raises(ValueError, match="square"):
        backward_transfer([[1, 2, 3], [4, 5, 6]])


def test_expected_distinct_matches_a_simulation_and_counts_allowed_outcomes_only():
    p = np.array([[0.5, 0.3, 0.2, 0.0], [0.25, 0.25, 0.25, 0.25]])
    allowed = np.array([[True, True, False, True], [True] * 4])
    assert expected_distinct(p, allowed, 1)[0] == pytest.approx(0.8)  # one draw: the allowed mass
    assert expected_distinct(p, allowed, 2)[1] == pytest.approx(4 * (1 - 0.75**2))
    rng = np.random.default_rng(1)
    draws = rng.choice(4, size=(20000, 5), p=p[0])
    simulated = np.mean([len({d for d in row if allowed[0, d]}) for row in draws])
    assert expected_distinct(p, allowed, 5)[0] == pytest.approx(simulated, abs=0.02)
    with pytest.raises(ValueError, match="positive"):
        expected_distinct(p, allowed, 0)


def test_check_novelty_reward_accepts_the_rule_and_names_the_usual_mistakes():
    assert check_novelty_reward(lambda c, ok, g: kd.novelty_reward(c, ok, g)).startswith("ok")
    with pytest.raises(ExerciseError, match="divide by how often"):
        check_novelty_reward(lambda c, ok, g: kd.correctness_reward(c, ok))
    with pytest.raises(ExerciseError, match="wrong or malformed answer earns 0"):
        check_novelty_reward(lambda c, ok, g: [1 / c.count(x) for x in c])

    def whole_batch(c, ok, g):  # counts repeats across the batch instead of within groups
        right = [x if (kd.parse(x) is not None and str(kd.parse(x)) in o) else None for x, o in zip(c, ok, strict=True)]
        return [0.0 if x is None else 1 / right.count(x) for x in right]

    with pytest.raises(ExerciseError, match="within each group"):
        check_novelty_reward(whole_batch)
    with pytest.raises(ExerciseError, match="one reward per completion"):
        check_novelty_reward(lambda c, ok, g: None)


def test_check_novelty_reward_first_finder_variant():
    def first(c, ok, g):
        out = []
        for s in range(0, len(c), g):
            seen = set()
            for i in range(s, s + g):
                a = kd.parse(c[i])
                new = a is not None and str(a) in ok[i] and a not in seen
                seen.add(a)
                out.append(float(new))
        return out

    assert check_novelty_reward(first, variant="first").startswith("ok")
    with pytest.raises(ExerciseError, match="only the first"):
        check_novelty_reward(lambda c, ok, g: kd.correctness_reward(c, ok), variant="first")
    with pytest.raises(ExerciseError, match="later repeats"):
        check_novelty_reward(lambda c, ok, g: kd.novelty_reward(c, ok, g), variant="first")
    with pytest.raises(ValueError, match="variant"):
        check_novelty_reward(first, variant="last")
