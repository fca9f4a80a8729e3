"""Chapter 7's measurements on a model with a known next-token table and on crafted trajectories: task scores,
the fast weights' choice, a checkpoint's drift, R² and ρ², the matched-reward rule and plasticity over a probe."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from casestudies.chapters import kl_drift as ch
from casestudies.tasks.keyed_digits import inputs

SETUP = ch.Setup(
    old=("sum", "dif", "max"),
    new="par",
    next="tri",
    width=8,
    depth=1,
    heads=1,
    pretrain_steps=2,
    pretrain_lr=1e-3,
    check_every=1,
    steps=2,
    lr=1e-3,
    track_every=1,
    prompts_per_step=2,
    generations=2,
    search_every=1,
    probe_steps=2,
    probe_every=1,
    probe_runs=1,
    supervised_runs=1,
)


class TableModel(torch.nn.Module):
    """A stand-in causal LM whose next-token distribution after `key a b =` is `table(key, a, b)`, a dict from
    digit to probability (the rest of the vocabulary gets `off`, shared evenly)."""

    def __init__(self, table, off=0.0):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.table, self.off = table, off
        tok = ch.tokenizer()
        self.words = tok.convert_ids_to_tokens(list(range(len(tok))))

    def distribution(self, key, a, b):
        p = np.full(len(self.words), self.off / (len(self.words) - 10))
        p[ch.digit_ids()] = 0.0
        for digit, mass in self.table(key, a, b).items():
            p[ch.digit_ids()[digit]] += mass * (1 - self.off)
        return p

    def forward(self, input_ids, attention_mask=None, position_ids=None, **_):
        rows = []
        for ids in input_ids.tolist():
            key, a, b = (self.words[i] for i in ids[-4:-1])
            rows.append(np.log(np.maximum(self.distribution(key, int(a), int(b)), 1e-30)))
        logits = torch.zeros(len(rows), input_ids.shape[1], len(self.words))
        logits[:, -1, :] = torch.tensor(np.array(rows), dtype=torch.float32)
        return SimpleNamespace(logits=logits)


def knows_sum(key, a, b):
    """Right on `sum` except when a = 0 (then 0.6 on a wrong digit), 0.6 on the `dif` answer, uniform elsewhere."""
    s = (a + b) % 10
    if key == "sum":
        return {s: 1.0} if a else {(s + 1) % 10: 0.6, s: 0.4}
    if key == "dif":
        return {(a - b) % 10: 0.6, (a - b + 1) % 10: 0.4}
    return dict.fromkeys(range(10), 0.1)


def test_expected_reward_is_the_probability_on_right_answers_by_hand():
    items = inputs("par")[:2]  # par 0 0 (even answers) and par 0 1 (odd answers)
    p = np.zeros((2, len(ch.tokenizer())))
    p[0, ch.digit_ids()[0]], p[0, ch.digit_ids()[1]] = 0.75, 0.25  # 0.75 right
    p[1, ch.digit_ids()[3]], p[1, 0] = 0.5, 0.5  # 0.5 right, 0.5 on a token that is not a digit
    assert ch.expected_reward(p, items) == pytest.approx((0.75 + 0.5) / 2)
    allowed = ch.right_tokens(items)
    assert allowed.shape == (2, len(ch.tokenizer())) and allowed.sum() == 10 and not allowed[:, 0].any()


def test_task_scores_read_the_known_table():
    model = TableModel(knows_sum, off=0.1)
    got = ch.old_scores(model, ["sum", "dif"])
    assert got["sum_accuracy"] == pytest.approx(0.9)  # wrong only when a = 0: 10 inputs of 100
    assert got["dif_accuracy"] == pytest.approx(1.0)
    assert got["old_accuracy"] == pytest.approx(0.95)
    assert got["old_probability"] == pytest.approx(((0.9 * 1.0 + 0.1 * 0.4) * 0.9 + 0.6 * 0.9) / 2)
    assert ch.task_reward(model, "par") == pytest.approx(0.5 * 0.9)  # uniform over digits: half have the parity
    assert ch.task_reward(model, "par", "sum") == pytest.approx((0.9 * 1.0 + 0.1 * 0.4) * 0.9)  # sum's parity
    assert ch.task_reward(model, "par", "dif") == pytest.approx(0.6 * 0.9)  # (a − b) mod 10 has a + b's parity


def test_fast_weights_choose_the_word_that_earns_most_and_search_only_on_schedule():
    model = TableModel(knows_sum)
    fast = ch.FastWeights(model, "par", ["dif", "max", "par", "sum"], every=3, search=True)
    assert fast.instruction == "sum"
    fast.instruction = "par"
    fast.on_step_end(None, SimpleNamespace(global_step=2), None, model=model)
    assert fast.instruction == "par"  # not a search step
    fast.on_step_end(None, SimpleNamespace(global_step=3), None, model=model)
    assert fast.instruction == "sum"
    still = ch.FastWeights(model, "par", ["sum"], every=1, search=False)
    still.on_step_end(None, SimpleNamespace(global_step=1), None, model=model)
    assert still.instruction == "par"
    with pytest.raises(ValueError, match="positive"):
        ch.FastWeights(model, "par", ["sum"], every=0, search=False)


def test_a_checkpoint_equal_to_its_base_has_not_drifted_and_a_sure_one_has():
    base = TableModel(lambda key, a, b: dict.fromkeys(range(10), 0.1))
    state = {name: value.detach().clone() for name, value in base.named_parameters()}
    same = ch.measure(base, base, state, SETUP, "par")
    assert same["kl"] == pytest.approx(0.0, abs=1e-6) and same["weight_distance"] == 0.0
    assert same["new_reward"] == pytest.approx(0.5) and same["top_right_share"] == pytest.approx(0.2)
    assert same["entropy"] == pytest.approx(math.log(10)) and same["malformed"] == pytest.approx(0.0, abs=1e-6)
    smallest = TableModel(lambda key, a, b: {(a + b) % 2: 0.9, (a + b) % 2 + 2: 0.1})  # always right, two digits
    moved = ch.measure(smallest, base, state, SETUP, "par")
    assert moved["new_reward"] == pytest.approx(1.0) and moved["top_right_share"] == pytest.approx(0.9)
    # KL(uniform ‖ q) with 0.9 and 0.1 on two digits and (almost) nothing on the other eight: dominated by those
    assert moved["kl"] > 10 and moved["kl_plain_prompts"] == pytest.approx(moved["kl"])


def test_r2_and_its_rank_version_by_hand():
    x = np.arange(1.0, 6.0)
    assert ch.r2(x, 3 * x + 1) == pytest.approx(1.0) and ch.r2(x, -x) == pytest.approx(1.0)
    assert ch.r2(x, np.ones(5)) == 0.0 and ch.r2(np.ones(5), x) == 0.0
    assert ch.r2([0, 1, 2], [0, 1, 0]) == pytest.approx(0.0)
    curved = np.exp(3 * x)  # monotone, far from a line
    assert ch.rank_r2(x, curved) == pytest.approx(1.0) and ch.r2(x, curved) < 0.9
    assert ch.r2([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.64)  # r = 0.8


def trajectory():
    """Two seeds of two learning arms and a control: forgetting exactly 0.5 × KL for arm A, 0.5 × KL + 0.1 for B."""
    rows = []
    for seed in (0, 1):
        for arm, rewards in [("A", [0.5, 0.9, 0.98, 0.99]), ("B", [0.5, 0.97, 0.985, 0.97]), ("C", [0.5] * 4)]:
            for step, reward in enumerate(rewards):
                kl = step * (1 + seed)
                rows.append(
                    {
                        "arm": arm,
                        "seed": seed,
                        "step": 2 * step,
                        "new_reward": reward,
                        "kl": kl,
                        "weight_distance": step,
                        "old_accuracy": 1 - 0.5 * kl / 10,
                        "forgetting": 0.5 * kl / 10 + (0.1 * (step > 0) if arm == "B" else 0.0),
                    }
                )
    return pd.DataFrame(rows)


def test_the_matched_point_is_the_first_checkpoint_reaching_the_threshold():
    got = ch.matched_point(trajectory(), 0.98, ["step", "old_accuracy", "new_reward"])
    assert got.loc[("A", 0), "step_matched"] == 4 and got.loc[("A", 0), "new_reward_matched"] == 0.98
    assert got.loc[("B", 1), "step_matched"] == 4  # the first one, not the later dip back below
    assert got.loc[("A", 1), "old_accuracy_matched"] == pytest.approx(1 - 0.5 * 4 / 10)
    assert ("C", 0) not in got.index  # never reached: no row, so the comparison leaves it out


def test_predictor_scores_pool_the_arms_per_seed():
    records = pd.DataFrame(ch.predictor_scores(trajectory(), {"kl": "kl", "step": "step"}, ["A", "B"], left_out="B"))
    assert set(records["arm"]) == {"predictor·kl", "predictor·step"} and set(records["seed"]) == {0, 1}
    kl = records[records["arm"] == "predictor·kl"].set_index("seed")
    assert kl["forgetting_r2_without_fixed"].tolist() == pytest.approx([1.0, 1.0])  # A alone: an exact line
    assert all(0.5 < v < 0.95 for v in kl["forgetting_r2"])  # B's offset breaks the line
    assert kl.loc[0, "forgetting_r2"] == pytest.approx(
        ch.r2([0, 1, 2, 3] * 2, [0, 0.05, 0.1, 0.15, 0, 0.15, 0.2, 0.25])
    )


def test_plasticity_is_the_mean_reward_after_the_start_averaged_over_runs():
    probes = pd.DataFrame(
        [
            {"arm": "RL", "seed": 0, "run": run, "step": step, "reward": reward, "entropy": 1.0 + run}
            for run, curve in enumerate([[0.3, 0.4, 0.6], [0.35, 0.5, 0.7]])
            for step, reward in zip([0, 5, 10], curve, strict=True)
        ]
    )
    got = ch.plasticity(probes).loc[("RL", 0)]
    assert got["plasticity"] == pytest.approx((0.4 + 0.6 + 0.5 + 0.7) / 4)
    assert got["next_task_start"] == pytest.approx(0.325) and got["next_task_entropy"] == pytest.approx(1.5)
    assert got["plasticity_gain"] == pytest.approx(0.55 - 0.325)
    assert list(ch.plasticity(probes, "_supervised").columns) == [
        "plasticity_supervised",
        "next_task_start_supervised",
        "next_task_entropy_supervised",
        "plasticity_gain_supervised",
    ]


def test_one_right_answer_per_input_is_right_and_spread():
    items = inputs("tri")
    answer = ch.one_right_answer(items, np.random.default_rng(0))
    assert len(answer) == 100 and all(answer[it["a"], it["b"]] in it["correct"] for it in items)
    assert len(set(answer.values())) == 10  # drawn among each input's right answers, so every digit turns up


def test_signal_share_counts_groups_whose_rewards_differ():
    log = pd.DataFrame(
        {"step": [0, 0, 0, 0, 1, 1], "prompt": ["a", "a", "b", "b", "a", "a"], "reward": [1.0, 0.0, 1.0, 1.0, 0.0, 0.0]}
    )
    assert ch.signal_share(log) == pytest.approx(1 / 3)


def test_the_random_digit_reference_drifts_by_log_ten_from_a_sure_base():
    p = np.zeros((2, len(ch.tokenizer())))
    p[:, ch.digit_ids()[3]] = 0.5  # all the digit mass on one digit; the rest off the digits
    p[:, 0] = 0.5
    assert ch.uniform_digit_kl(p) == pytest.approx(math.log(10))
    p[:, ch.digit_ids()] = 0.05
    assert ch.uniform_digit_kl(p) == pytest.approx(0.0)
