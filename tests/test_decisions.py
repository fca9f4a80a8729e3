"""Cost-sensitive decisions: the weighted-loss identity, realised cost, threshold tuning, teacher data, MLP."""

import numpy as np
import pytest
import torch

from casestudies.exercises import ExerciseError, check_abstention_policy, check_probability_from_weighted
from casestudies.metrics.decisions import (
    bayes_threshold,
    best_threshold,
    expected_cost,
    expected_cost_under,
    expected_weighted_log_loss,
    linear_probe_auc,
    weighted_log_loss,
    weighted_optimum,
)
from casestudies.tasks.teacher import teacher_data
from casestudies.training.classifier import (
    cost_weights,
    features,
    mlp,
    predict_proba,
    train_classifier,
    train_early_stopped,
    weighted_bce,
)


@pytest.mark.parametrize("ratio", [1, 3, 10, 30, 100])
def test_weighted_optimum_at_one_half_is_the_bayes_rule(ratio):
    p = np.linspace(0.001, 0.999, 999)
    q = weighted_optimum(p, w1=ratio, w0=1.0)
    np.testing.assert_array_equal(q > 0.5, p > bayes_threshold(1.0, ratio))


def test_weighted_optimum_minimises_weighted_cross_entropy():
    p, w1, w0 = 0.2, 10.0, 1.0
    grid = np.linspace(0.001, 0.999, 9999)
    loss = -(w1 * p * np.log(grid) + w0 * (1 - p) * np.log(1 - grid))
    assert grid[np.argmin(loss)] == pytest.approx(float(weighted_optimum(p, w1, w0)), abs=1e-3)


def test_expected_cost_hand_worked():
    y = [1, 1, 0, 0, 0]
    decisions = [1, 0, 1, 0, 0]  # one miss (cost 30), one false alarm (cost 1)
    assert expected_cost(y, decisions, c_fp=1.0, c_fn=30.0) == pytest.approx(31 / 5)


def test_expected_cost_under_p_hand_worked():
    p = [0.1, 0.5, 0.02]
    decisions = [1, 0, 0]  # a false alarm with probability 0.9; misses with probabilities 0.5 and 0.02
    assert expected_cost_under(p, decisions, c_fp=1.0, c_fn=30.0) == pytest.approx((0.9 + 15 + 0.6) / 3)
    assert expected_cost_under([0.0, 1.0], [0, 1], 1.0, 30.0) == 0.0  # certain labels, right decisions
    with pytest.raises(ValueError, match="same shape"):
        expected_cost_under([0.1, 0.2], [1], 1.0, 30.0)
    with pytest.raises(ValueError, match="probabilities"):
        expected_cost_under([1.5], [1], 1.0, 30.0)


def test_expected_cost_under_p_is_the_mean_of_sampled_label_costs():
    rng = np.random.default_rng(0)
    p = rng.beta(1, 3, size=200)
    decisions = p > 1 / 31
    exact = expected_cost_under(p, decisions, 1.0, 30.0)
    sampled = [expected_cost(rng.random(p.size) < p, decisions, 1.0, 30.0) for _ in range(4000)]
    assert np.mean(sampled) == pytest.approx(exact, abs=4 * np.std(sampled) / np.sqrt(len(sampled)))
    assert np.std(sampled) > 0.05  # what scoring on sampled labels adds: noise the exact cost has not


def test_expected_weighted_log_loss_hand_worked_and_against_sampled_labels():
    p, q = [0.5, 0.1], [0.8, 0.2]
    expected = (30 * 0.5 * -np.log(0.8) + 0.5 * -np.log(0.2) + 30 * 0.1 * -np.log(0.2) + 0.9 * -np.log(0.8)) / 2
    assert expected_weighted_log_loss(p, q, w1=30, w0=1) == pytest.approx(expected)
    assert expected_weighted_log_loss([1.0, 0.0], [0.7, 0.4], 2.0, 1.0) == pytest.approx(
        weighted_log_loss([0.7, 0.4], [1, 0], 2.0, 1.0)  # certain labels: the sampled loss itself
    )
    rng = np.random.default_rng(1)
    p, q = rng.random(100), rng.random(100)
    sampled = np.mean([weighted_log_loss(q, rng.random(100) < p, 3.6, 0.12) for _ in range(4000)])
    assert sampled == pytest.approx(expected_weighted_log_loss(p, q, 3.6, 0.12), rel=0.01)


def test_best_threshold_matches_brute_force():
    rng = np.random.default_rng(0)
    scores, y = rng.random(300), rng.random(300) < 0.3
    t = best_threshold(scores, y, 1.0, 5.0)
    brute = min(expected_cost(y, scores > c, 1.0, 5.0) for c in np.concatenate([[-1.0], scores, [2.0]]))
    assert expected_cost(y, scores > t, 1.0, 5.0) == pytest.approx(brute)


def test_teacher_data_has_the_stated_base_rate_and_true_probabilities():
    x, y, p = teacher_data(20_000, base_rate=0.25, seed=0)
    assert x.shape == (20_000, 20) and set(np.unique(y)) == {0, 1}
    assert p.mean() == pytest.approx(0.25, abs=0.01)
    assert y.mean() == pytest.approx(p.mean(), abs=0.01)
    x2, _, _ = teacher_data(5, seed=0)
    np.testing.assert_array_equal(x[:5], x2)  # same seed, same sample
    with pytest.raises(ValueError):
        teacher_data(10, base_rate=1.5)


def test_mlp_learns_and_weighting_raises_predicted_probabilities():
    x, y, p = teacher_data(3000, seed=1)
    seen = []
    plain, weighted = mlp(20, 32, seed=0), mlp(20, 32, seed=0)
    losses = train_classifier(plain, x, y, checkpoints=[50, 300], on_checkpoint=lambda s, m: seen.append(s))
    train_classifier(weighted, x, y, checkpoints=[300], class_weights=[1.0, 10.0])
    assert seen == [50, 300] and len(losses) == 300
    assert np.mean(losses[-30:]) < np.mean(losses[:30])
    assert np.corrcoef(predict_proba(plain, x), p)[0, 1] > 0.6
    assert predict_proba(weighted, x).mean() > predict_proba(plain, x).mean() + 0.1
    h = features(plain, x)
    assert h.shape == (3000, 32)
    assert linear_probe_auc(h[:2000], y[:2000], h[2000:], y[2000:]) > 0.7


def test_predicting_and_reading_features_leave_the_train_or_eval_mode_as_it_was():
    x = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    for training in (True, False):
        model = mlp(5, 4, seed=0).train(training)
        predict_proba(model, x)
        features(model, x)
        assert model.training is training


def test_weighted_log_loss_by_hand():
    p, y = [0.8, 0.4, 0.1], [1, 1, 0]  # −30 log 0.8, −30 log 0.4, −log 0.9
    expected = (30 * -np.log(0.8) + 30 * -np.log(0.4) - np.log(0.9)) / 3
    assert weighted_log_loss(p, y, w1=30, w0=1) == pytest.approx(expected)
    assert np.isfinite(weighted_log_loss([1.0, 0.0], [0, 1], 1, 1))  # clipped, not infinite


def test_cost_weights_have_the_ratio_and_mean_one_over_the_labels():
    y = np.array([0, 0, 0, 1])
    w = cost_weights(30, y)
    assert w[1] / w[0] == pytest.approx(30) and w[y].mean() == pytest.approx(1.0)
    assert w[0] == pytest.approx(4 / 33)  # (3 w0 + 30 w0) / 4 = 1


def test_the_trainers_use_the_class_weights_as_given():
    x, y, _ = teacher_data(500, seed=5)
    runs = {}
    for name, weights in (("none", None), ("ones", [1.0, 1.0]), ("twos", [2.0, 2.0])):
        runs[name] = train_classifier(mlp(20, 8, seed=0), x, y, checkpoints=[1], class_weights=weights)
    assert runs["ones"] == pytest.approx(runs["none"])
    assert runs["twos"][0] == pytest.approx(2 * runs["none"][0])  # not normalised again: `cost_weights` does that
    with pytest.raises(ValueError, match="positive"):
        train_classifier(mlp(20, 8, seed=0), x, y, checkpoints=[1], class_weights=[1.0, -1.0])


def test_weighted_bce_is_torchs_weighted_bce():
    torch.manual_seed(0)
    logits, y = torch.randn(50), torch.randint(0, 2, (50,))
    weights = torch.tensor([0.2, 3.0])
    reference = torch.nn.functional.binary_cross_entropy_with_logits(logits, y.float(), weight=weights[y])
    assert weighted_bce(logits, y, weights).item() == pytest.approx(reference.item())


def test_early_stopping_leaves_the_model_at_its_best_validation_loss():
    x, y, _ = teacher_data(600, seed=3)  # small data: the model overfits within the budget
    xv, yv, _ = teacher_data(2000, seed=4)
    model = mlp(20, 64, seed=0)
    best, history = train_early_stopped(model, (x, y), (xv, yv), max_steps=1500, every=50, lr=1e-2)
    losses = dict(history)
    assert best == min(losses, key=losses.get) and best < 1500  # it did overfit, and stopped before
    with torch.no_grad():
        logits = model(torch.as_tensor(xv)).squeeze(-1)
    now = weighted_bce(logits, torch.as_tensor(yv), torch.ones(2)).item()
    assert now == pytest.approx(losses[best], rel=1e-4)  # the returned model is that checkpoint


def test_the_unweighting_exercise_checker():
    def right(q, w1, w0):
        return w0 * q / (w1 * (1 - q) + w0 * q)

    assert check_probability_from_weighted(right).startswith("ok")
    with pytest.raises(ExerciseError, match="solve q"):
        check_probability_from_weighted(lambda q, w1, w0: q)
    with pytest.raises(ExerciseError, match="solve q"):
        check_probability_from_weighted(lambda q, w1, w0: w1 * q / (w0 * (1 - q) + w1 * q))  # weights swapped
    with np.errstate(divide="ignore", invalid="ignore"), pytest.raises(ExerciseError, match="handle the ends"):
        check_probability_from_weighted(lambda q, w1, w0: (q / (1 - q)) / (w1 / w0 + q / (1 - q)))  # odds: nan at 1
    with pytest.raises(ExerciseError, match="raised ZeroDivisionError"):
        check_probability_from_weighted(lambda q, w1, w0: 1 / 0)


def test_the_abstention_policy_exercise_checker():
    assert check_abstention_policy(lambda p, lam: "answer" if p > lam / (1 + lam) else "abstain").startswith("ok")
    assert check_abstention_policy(lambda p, lam: "answer" if p >= lam / (1 + lam) else "abstain").startswith("ok")
    with pytest.raises(ExerciseError, match=r"decide\(0.333, 0.667\) = 'answer'.*'abstain'"):
        check_abstention_policy(lambda p, lam: "answer" if p > 0.3 else "abstain")  # one fixed threshold
    with pytest.raises(ExerciseError, match="worth"):
        check_abstention_policy(lambda p, lam: "answer" if p > lam else "abstain")  # λ itself as the threshold
    with pytest.raises(ExerciseError, match="return 'answer' or 'abstain'"):
        check_abstention_policy(lambda p, lam: p > lam / (1 + lam))
