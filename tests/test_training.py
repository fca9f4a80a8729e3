"""The TRL wrappers: supervised training learns, GRPO follows its reward, trained models copy safely."""

import copy
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from trl.trainer.utils import nanstd

from casestudies.exercises import ExerciseError, check_group_advantages
from casestudies.generation import choice_distribution
from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks import candidate_set as cs
from casestudies.training import (
    RewardLog,
    ShuffledReward,
    StopWhen,
    Track,
    difficulty_bias,
    group_advantages,
    grpo,
    sft,
)


@pytest.fixture(scope="module")
def tokenizer():
    return word_tokenizer(cs.VOCABULARY)


def prob_of(model, tokenizer, prompt: str, token: str) -> float:
    with torch.no_grad():
        logits = model(**tokenizer([prompt], return_tensors="pt")).logits[0, -1]
    return float(torch.softmax(logits, -1)[tokenizer.convert_tokens_to_ids(token)])


def likes_seven(completions, **_):
    """A reward for a first word of 7."""
    return [1.0 if c.split()[:1] == ["7"] else 0.0 for c in completions]


def test_sft_lowers_the_loss(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    history = sft(model, tokenizer, cs.warmup_items(40 * 16, (1, 2), seed=0), steps=40, batch_size=16, lr=3e-3)
    assert history["loss"].iloc[-5:].mean() < 0.5 * history["loss"].iloc[:5].mean()
    with pytest.raises(ValueError, match="at least one"):
        sft(model, tokenizer, [], steps=1)


@pytest.mark.parametrize("beta", [0.0, 0.05])
def test_grpo_moves_the_policy_towards_its_reward(tokenizer, beta):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    model.config._name_or_path = "org/pretrained-name"  # as if loaded from the Hub
    prompt = cs.make_prompt("37")
    before = prob_of(model, tokenizer, prompt, "7")

    items = [{"prompt": prompt, "gold": "7"}] * 4 * 30
    history = grpo(
        model,
        tokenizer,
        items,
        likes_seven,
        steps=30,
        prompts_per_step=4,
        generations=8,
        max_completion_length=2,
        lr=1e-2,
        beta=beta,
    )
    assert len(history) == 30 and "reward" in history
    assert prob_of(model, tokenizer, prompt, "7") > max(0.5, 3 * before)
    assert model.config._name_or_path == "org/pretrained-name"  # its own name, not the deleted reference folder
    if beta > 0:
        # the KL anchor is the starting policy: at the first step (before any update) the policy *is* the reference
        assert abs(history["kl"].iloc[0]) < 1e-5
        assert history["kl"].iloc[-1] > 1e-2  # and the logged KL does grow as the policy moves away
    else:
        assert "kl" not in history


def test_grpo_restores_the_model_name_when_training_fails(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    model.config._name_or_path = "org/pretrained-name"

    def broken(completions, **_):
        raise RuntimeError("reward server down")

    with pytest.raises(RuntimeError, match="reward server down"):
        grpo(
            model,
            tokenizer,
            [{"prompt": "pick 1 :"}] * 4,
            broken,
            steps=1,
            prompts_per_step=2,
            generations=2,
            max_completion_length=2,
            beta=0.1,
        )
    assert model.config._name_or_path == "org/pretrained-name"


def test_reward_log_records_every_completion_at_its_optimizer_step(tokenizer):
    returned = []

    def length_reward(completions, **_):
        rewards = [float(len(c.split())) for c in completions]
        returned.extend(rewards)
        return rewards

    log = RewardLog(
        length_reward, describe=lambda c: {"first": (c.split() or [""])[0]}, labels={"arm": "RL", "seed": 3}
    )
    assert log.__name__ == "length_reward"
    # a call outside training (no trainer state) is logged with no step; it must not shift the training steps
    assert log(["7 of 2"], prompts=["pick 3 7 :"]) == [3.0]
    assert log(["7"], trainer_state=SimpleNamespace(global_step=41)) == [1.0]
    assert log.rows == [
        {
            "arm": "RL",
            "seed": 3,
            "step": None,
            "prompt": "pick 3 7 :",
            "completion": "7 of 2",
            "reward": 3.0,
            "first": "7",
        },
        {"arm": "RL", "seed": 3, "step": 41, "prompt": None, "completion": "7", "reward": 1.0, "first": "7"},
    ]
    log.rows.clear()
    returned.clear()

    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    items = [{"prompt": cs.make_prompt(c), "gold": c[0]} for c in ("37", "159", "0", "28")] * 2
    history = grpo(model, tokenizer, items, log, steps=3, prompts_per_step=2, generations=4, max_completion_length=3)
    frame = log.frame()
    assert len(frame) == 3 * 2 * 4 == len(returned)
    assert frame["step"].value_counts().sort_index().to_dict() == {0: 8, 1: 8, 2: 8}
    assert frame["reward"].tolist() == returned  # what the wrapped function returned, in order
    assert (frame["reward"] == [float(len(c.split())) for c in frame["completion"]]).all()
    assert (frame["first"] == [(c.split() or [""])[0] for c in frame["completion"]]).all()
    assert (frame["arm"] == "RL").all() and (frame["seed"] == 3).all()
    assert set(frame["prompt"]) <= {it["prompt"] for it in items}
    assert (frame.groupby("step")["prompt"].nunique() <= 2).all()  # one step's 8 completions answer 2 prompts
    # TRL logs the reward under the wrapped function's name; its per-step mean is the mean of that step's rows
    means = frame.groupby("step")["reward"].mean().to_numpy()
    assert history["rewards/length_reward/mean"].to_numpy() == pytest.approx(means)


def test_shuffled_reward_pays_each_steps_rewards_in_shuffled_groups(tokenizer):
    earned = [[1, 1, 0, 0, 0, 0, 0, 0], [1, 0, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]]  # groups of 4
    reward = ShuffledReward(earned, group_size=4, seed=7)
    at = [SimpleNamespace(global_step=s) for s in range(4)]
    assert reward.__name__ == "shuffled_reward"
    for step in range(3):
        paid = np.array(reward(["a"] * 8, trainer_state=at[step])).reshape(2, 4)
        # the same groups (as multisets), so the same rate and the same groups with a learning signal
        assert sorted(map(sorted, paid.tolist())) == sorted(map(sorted, np.reshape(earned[step], (2, 4)).tolist()))
    # which completion is paid does not depend on what was written, only on the seed and the step
    assert reward(["x y"] * 8, trainer_state=at[1]) == reward(["z"] * 8, trainer_state=at[1])
    draws = {tuple(ShuffledReward(earned, 4, seed)(["a"] * 8, trainer_state=at[1])) for seed in range(20)}
    assert len(draws) > 4  # the groups and their members are really shuffled
    with pytest.raises(ValueError, match="same steps and batch"):
        reward(["a"] * 8, trainer_state=at[3])
    with pytest.raises(ValueError, match="same steps and batch"):
        reward(["a"] * 4, trainer_state=at[0])
    with pytest.raises(ValueError, match="groups of 3"):
        ShuffledReward(earned, group_size=3, seed=0)

    # inside GRPO the step is TRL's optimizer step and a group is one prompt's completions
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    items = [{"prompt": cs.make_prompt(c), "gold": c[0]} for c in ("37", "159", "0", "28")] * 2
    log = RewardLog(ShuffledReward([[0] * 8, [1, 1, 1, 1, 0, 0, 0, 0], [0] * 8], group_size=4, seed=0))
    grpo(model, tokenizer, items, log, steps=3, prompts_per_step=2, generations=4, max_completion_length=3)
    frame = log.frame()
    assert frame.groupby("step")["reward"].sum().tolist() == [0, 4, 0]
    groups = frame[frame["step"] == 1]["reward"].to_numpy().reshape(2, 4)  # TRL's order: a group, then the next
    assert sorted(groups.sum(axis=1).tolist()) == [0, 4]  # each group kept whole


def test_reward_log_binds_labels_at_construction_and_rejects_clashes():
    labels = {"arm": "RL"}

    def zero(completions, **_):
        return [0.0] * len(completions)

    log = RewardLog(zero, labels=labels)
    labels["arm"] = "changed later"
    log(["x"])
    assert log.__name__ == "zero" and log.frame()["arm"].tolist() == ["RL"]
    with pytest.raises(ValueError, match="step"):
        RewardLog(lambda completions, **_: [], labels={"step": 1})
    with pytest.raises(ValueError, match="reward"):
        RewardLog(lambda completions, **_: [0.0], describe=lambda c: {"reward": 1})(["x"])


def test_trained_model_deep_copies_into_independent_arms(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    sft(model, tokenizer, cs.warmup_items(5 * 8, (2,), seed=0), steps=5, batch_size=8)
    twin = copy.deepcopy(model)
    x = tokenizer(["pick 3 7 :"], return_tensors="pt")
    before = model(**x).logits.detach().clone()
    with torch.no_grad():
        for p in twin.parameters():
            p.add_(0.1)
    assert not torch.allclose(twin(**x).logits, before)  # the copy runs its own weights
    torch.testing.assert_close(model(**x).logits, before)  # and leaves the original alone


def test_grpo_needs_a_group(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2)
    with pytest.raises(ValueError, match="at least 2 generations"):
        grpo(
            model,
            tokenizer,
            [{"prompt": "pick 1 :"}],
            lambda completions, **_: [0.0],
            steps=1,
            prompts_per_step=1,
            generations=1,
            max_completion_length=2,
        )


def test_lora_trains_only_adapters_and_merges_them_into_the_model(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    items = [{"prompt": cs.make_prompt(c), "completion": f" {c[0]}"} for c in ("37", "159", "28", "46")] * 8
    prompts = [it["prompt"] for it in items[:4]]
    start = choice_distribution(model, tokenizer, prompts, tuple("0123456789"))
    sft(model, tokenizer, items, steps=20, batch_size=8, lr=1e-2, lora_rank=4)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert not any("lora" in name for name, _ in model.named_parameters())  # merged, a plain model again
    after = dict(model.named_parameters())
    assert set(after) == set(before)
    changed = {n for n in before if not torch.equal(before[n], after[n].detach())}
    assert changed and all("proj" in n for n in changed)  # only linear layers moved; embeddings and norms did not
    learned = choice_distribution(model, tokenizer, prompts, tuple("0123456789"))
    digits = [int(it["completion"]) for it in items[:4]]
    assert all(learned[i, d] > start[i, d] for i, d in enumerate(digits))  # the merged update is the learned one
    with pytest.raises(ValueError, match="lora_rank"):
        sft(model, tokenizer, items, steps=1, lora_rank=0)


def test_grpo_can_leave_cut_off_completions_out_of_the_loss(tokenizer):
    """A reward for a first word of 7, with room for one token only: every completion but an immediate end of
    sequence is cut off. Unmasked, the policy learns to say 7; masked, only the (unrewarded) immediate ends are
    left in the loss, and the probability of 7 barely moves."""
    prompt = cs.make_prompt("37")

    moved = {}
    for mask in (False, True):
        model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
        before = prob_of(model, tokenizer, prompt, "7")
        grpo(
            model,
            tokenizer,
            [{"prompt": prompt}] * 4 * 10,
            likes_seven,
            steps=10,
            prompts_per_step=4,
            generations=8,
            max_completion_length=1,
            lr=1e-2,
            mask_truncated=mask,
        )
        moved[mask] = prob_of(model, tokenizer, prompt, "7") - before
    assert moved[False] > before
    assert abs(moved[True]) < 0.2 * moved[False]


def sft_until(tokenizer, items, stop, steps=40):
    """A tiny model fine-tuned on `items` with the `StopWhen` callback `stop`; returns the training history."""
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    return sft(model, tokenizer, items, steps=steps, batch_size=16, callbacks=[stop])


def test_stop_when_ends_training_at_the_first_check_that_passes(tokenizer):
    items = cs.warmup_items(40 * 16, (1, 2), seed=0)
    checks = []

    def after_three_checks(model):
        checks.append(model.training)
        return len(checks) == 3

    stop = StopWhen(after_three_checks, every=5)
    history = sft_until(tokenizer, items, stop)
    assert stop.stopped_at == 15 and history["step"].max() == 15
    assert checks == [True, True, True]  # asked with the model as training left it
    never = StopWhen(lambda model: False, every=5)
    sft_until(tokenizer, items[:160], never, steps=10)
    assert never.stopped_at is None
    with pytest.raises(ValueError, match="every"):
        StopWhen(lambda model: True, every=0)
    with pytest.raises(ValueError, match="start"):
        StopWhen(lambda model: True, every=5, start=-1)


def test_stop_when_asks_first_at_its_start_step_then_every_few_steps(tokenizer):
    items = cs.warmup_items(40 * 16, (1, 2), seed=0)
    asked = []
    late = StopWhen(lambda model: asked.append(1) or len(asked) == 2, every=5, start=12)
    history = sft_until(tokenizer, items, late)
    assert late.stopped_at == 17 and history["step"].max() == 17 and len(asked) == 2  # asked at 12, then 17


# GRPO's advantages, against TRL's own standard deviation and by hand.


@pytest.mark.parametrize("rewards", [[1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0], [0.2, 0.9, 0.4, 0.4, 1.0], [0, 0, 0]])
def test_group_advantages_match_trls_standard_deviation(rewards):
    r = torch.tensor(rewards, dtype=torch.float32)
    expected = (r - r.mean()) / (nanstd(r) + 1e-4)
    np.testing.assert_allclose(group_advantages(rewards, scale=True), expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(group_advantages(rewards, scale=False), (r - r.mean()).numpy(), atol=1e-6)


def test_difficulty_bias_by_hand():
    rows = {row["successes"]: row for row in difficulty_bias(8)}
    assert rows[1]["success (scaled)"] == pytest.approx(0.875 / math.sqrt(1 / 8), abs=1e-3)  # ≈ 2.47
    assert rows[1]["success (unscaled)"] == pytest.approx(0.875)
    assert rows[7]["failure (scaled)"] == pytest.approx(-rows[1]["success (scaled)"])  # symmetric
    for row in rows.values():
        assert row["Σ A² (scaled)"] == pytest.approx(7.0, abs=1e-2)  # G − 1 for every group with variance
        c = row["successes"]
        assert row["Σ A² (unscaled)"] == pytest.approx(c * (8 - c) / 8)
    with pytest.raises(ValueError, match="two rewards"):
        group_advantages([1.0], scale=True)


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # the learner's 0 / 0, which the check reports
def test_check_group_advantages_accepts_the_rule_and_names_the_usual_mistakes():
    def right(r, scale):
        return (r - r.mean()) / (r.std(ddof=1) + 1e-4) if scale else r - r.mean()

    assert check_group_advantages(right).startswith("ok")
    with pytest.raises(ExerciseError, match="ddof=1"):
        check_group_advantages(lambda r, s: (r - r.mean()) / (r.std() + 1e-4) if s else r - r.mean())
    with pytest.raises(ExerciseError, match="not NaN"):
        check_group_advantages(lambda r, s: (r - r.mean()) / r.std(ddof=1) if s else r - r.mean())
    with pytest.raises(ExerciseError, match="centre"):
        check_group_advantages(lambda r, s: r - r.mean())


def test_track_records_before_the_first_step_and_every_few_steps(tokenizer):
    items = cs.warmup_items(12 * 16, (1, 2), seed=0)
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    track = Track(lambda m: {"p7": prob_of(m, tokenizer, items[0]["prompt"], "7"), "training": m.training}, every=4)
    sft(model, tokenizer, items, steps=12, batch_size=16, callbacks=[track])
    frame = track.frame()
    assert frame["step"].tolist() == [0, 4, 8, 12] and frame["training"].all()
    assert frame["p7"].iloc[-1] == pytest.approx(prob_of(model, tokenizer, items[0]["prompt"], "7"))
    with pytest.raises(ValueError, match="every"):
        Track(lambda m: {}, every=0)
    uneven = Track(lambda m: {"p7": prob_of(m, tokenizer, items[0]["prompt"], "7")}, every=5)
    sft(model, tokenizer, items, steps=12, batch_size=16, callbacks=[uneven])  # 12 more steps, measured every 5
    assert uneven.frame()["step"].tolist() == [0, 5, 10, 12]  # the final model too, once
    later = Track(lambda m: {"p7": prob_of(m, tokenizer, items[0]["prompt"], "7")}, every=5, at_start=False)
    sft(model, tokenizer, items, steps=12, batch_size=16, callbacks=[later])
    assert later.frame()["step"].tolist() == [5, 10, 12]  # no measurement of the untrained model


def test_grpo_fills_the_context_in_as_each_batch_is_drawn(tokenizer):
    word = {"now": "1"}
    seen = []

    def reward(completions, prompts, trainer_state, **_):
        seen.append((trainer_state.global_step, set(p.split()[0] for p in prompts)))
        if trainer_state.global_step == 1:
            word["now"] = "2"
        return likes_seven(completions)

    items = [{"prompt": "{context} 3 ="} for _ in range(32)]
    grpo(
        tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0),
        tokenizer,
        items,
        reward,
        steps=5,
        prompts_per_step=2,
        generations=4,
        max_completion_length=2,
        context=lambda: word["now"],
    )
    words = dict(seen)
    assert words[0] == {"1"} and words[4] == {"2"}  # changed after step 1: in effect within two steps
    assert all(len(w) == 1 for w in words.values())
    with pytest.raises(ValueError, match="context"):
        grpo(
            tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0),
            tokenizer,
            [{"prompt": "3 ="}] * 8,
            likes_seven,
            steps=1,
            prompts_per_step=2,
            generations=4,
            max_completion_length=2,
            context=lambda: "1",
        )
