"""Tool-in-the-loop episodes and the downsampling of oversampled groups (Resample-on-Correct and its control)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from casestudies.exercises import ExerciseError, check_lowest_penalty_downsample
from casestudies.generation import sample_episodes
from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks import calculator as calc
from casestudies.training import ToolRollout, grpo, keep_counts, random_downsample, resample_on_correct


@pytest.mark.parametrize(
    ("rewards", "keep", "expected"),
    [
        ([1, 1, 1, 1, 1, 1, 0, 0], 4, (3, 1)),
        ([1, 0, 0, 0, 0, 0, 0, 0], 4, (1, 3)),  # 0.5 rounds up
        ([1, 1, 1, 1, 1, 1, 1, 0], 4, (3, 1)),  # 3.5 → 4, but the one failure is kept
        ([1, 1, 0, 0, 0, 0, 0, 0], 4, (1, 3)),
        ([0, 0, 0, 0], 2, (0, 2)),
        ([1, 1, 1, 1], 2, (2, 0)),
    ],
)
def test_keep_counts_keep_the_shares_and_both_kinds(rewards, keep, expected):
    assert keep_counts(rewards, keep) == expected


def test_keep_counts_refuse_an_impossible_keep():
    with pytest.raises(ValueError, match="keep"):
        keep_counts([1, 0], 3)


def test_roc_keeps_the_cleanest_successes_and_draws_failures_uniformly():
    rewards = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], dtype=float)
    penalties = np.array([0.5, 0.0, 1 / 3, 0.0, 0.25, 1.0, 0.0, 0.5, 0.5, 0.0])
    counts = np.zeros(10)
    for seed in range(2000):
        kept = resample_on_correct(rewards, penalties, 5, np.random.default_rng(seed))
        assert len(kept) == 5 and len(set(kept)) == 5
        assert set(kept[rewards[kept] > 0]) == {1, 3, 4}  # the three lowest penalties among the successes
        counts[kept] += 1
    share = counts[5:] / 2000  # each failure kept 2 times in 5, whatever its penalty
    assert np.abs(share - 0.4).max() < 4 * np.sqrt(0.4 * 0.6 / 2000)


def test_roc_breaks_ties_among_equally_clean_successes_at_random():
    rewards, penalties = np.array([1, 1, 1, 0], dtype=float), np.zeros(4)
    firsts = {int(resample_on_correct(rewards, penalties, 2, np.random.default_rng(s))[0]) for s in range(50)}
    assert firsts == {0, 1, 2}


def test_roc_lowest_failures_is_the_released_variant():
    rewards = np.array([1, 1, 0, 0, 0, 0], dtype=float)
    penalties = np.array([0.0, 0.5, 1.0, 0.0, 0.5, 0.25])
    kept = resample_on_correct(rewards, penalties, 3, np.random.default_rng(0), failures="lowest")
    assert list(kept) == [0, 3, 5]
    with pytest.raises(ValueError, match="failures"):
        resample_on_correct(rewards, penalties, 3, np.random.default_rng(0), failures="best")


def test_random_downsample_keeps_the_same_counts_and_ignores_penalties():
    rewards = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=float)
    counts = np.zeros(8)
    for seed in range(2000):
        kept = random_downsample(rewards, 4, np.random.default_rng(seed))
        assert (rewards[kept] > 0).sum() == 2
        counts[kept] += 1
    assert np.abs(counts / 2000 - 0.5).max() < 4 * np.sqrt(0.25 / 2000)


def test_check_lowest_penalty_downsample_accepts_the_variant_and_names_mistakes():
    def released(rewards, penalties, keep):
        return resample_on_correct(rewards, penalties, keep, np.random.default_rng(0), failures="lowest")

    def uniform_failures(rewards, penalties, keep):
        return resample_on_correct(rewards, penalties, keep, np.random.default_rng(0), failures="uniform")

    def first_ones(rewards, penalties, keep):
        return list(range(keep))

    assert check_lowest_penalty_downsample(released).startswith("ok")
    with pytest.raises(ExerciseError, match="failures with penalties"):
        check_lowest_penalty_downsample(uniform_failures)
    with pytest.raises(ExerciseError, match="share of the group"):
        check_lowest_penalty_downsample(first_ones)
    with pytest.raises(ExerciseError, match="raised"):
        check_lowest_penalty_downsample(lambda r, p, k: 1 / 0)


@pytest.fixture(scope="module")
def tokenizer():
    return word_tokenizer(calc.VOCABULARY)


environment, max_words = calc.environment, calc.max_words  # both take the prompt itself


def test_episodes_mask_exactly_the_environments_words(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, max_positions=64, seed=0)
    prompts = [p.prompt for p in calc.problems(40, 2, seed=0)]
    prefixes = ["CALL 3 * ; -> ERR"] * 40

    def sampled():
        generator = torch.Generator().manual_seed(1)
        return sample_episodes(model, tokenizer, prompts, environment, max_words, generator, prefixes, batch_size=16)

    episodes = sampled()
    for prompt, ep in zip(prompts, episodes, strict=True):
        words = tokenizer.convert_ids_to_tokens(ep["completion_ids"])
        assert ep["text"] == " ".join(w for w in words if w != tokenizer.eos_token)
        assert ep["text"].startswith("CALL 3 * ; -> ERR")
        expected = [0] * 6  # the prefix is not the model's; the calculator replies right after a call's ';'
        for i in range(6, len(words)):
            expected.append(0 if words[i - 1 : i + 1] == [";", "->"] or words[i - 2 : i] == [";", "->"] else 1)
        assert ep["env_mask"] == expected
        assert all((lp == 0) == (m == 0) for lp, m in zip(ep["logprobs"], ep["env_mask"], strict=True))
        assert len(words) <= max_words(prompt) + 1  # + the end-of-sequence token
    again = sampled()
    assert [e["text"] for e in again] == [e["text"] for e in episodes]  # seeded


def test_episodes_logprobs_are_the_models(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, max_positions=64, seed=0)
    prompt = calc.problems(1, 2, seed=0)[0].prompt
    (ep,) = sample_episodes(model, tokenizer, [prompt], environment, max_words, torch.Generator().manual_seed(2))
    ids = tokenizer(prompt, add_special_tokens=False).input_ids + ep["completion_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
    start = len(ids) - len(ep["completion_ids"])
    for i, (token, lp, mine) in enumerate(zip(ep["completion_ids"], ep["logprobs"], ep["env_mask"], strict=True)):
        if mine:
            assert lp == pytest.approx(float(logp[start + i - 1, token]), abs=1e-4)


@pytest.mark.parametrize("selection", ["roc", "random", "all"])
def test_tool_rollout_returns_one_group_per_prompt_in_trls_format(tokenizer, selection):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, max_positions=64, seed=0)
    oversample = 1 if selection == "all" else 2

    def judge(prompt, completion):  # crafted: every third rollout succeeds, penalties vary
        judge.calls += 1
        return float(judge.calls % 3 == 0), (judge.calls % 4) / 4

    judge.calls = 0
    rollout = ToolRollout(tokenizer, environment, max_words, judge, selection, oversample, seed=0)
    prompts = [p.prompt for p in calc.problems(3, 2, seed=1) for _ in range(4)]
    trainer = SimpleNamespace(model=model, num_generations=4, state=SimpleNamespace(global_step=7))
    out = rollout(prompts, trainer)
    assert len(out["completion_ids"]) == 12 and len(out["prompt_ids"]) == 12
    for ids, prompt in zip(out["prompt_ids"], prompts, strict=True):
        assert ids == tokenizer(prompt, add_special_tokens=False).input_ids
    log = rollout.frame()
    assert len(log) == 12 * oversample and (log["step"] == 7).all()
    assert (log.groupby("group")["kept"].sum() == 4).all()
    if selection == "roc":  # no dropped success is cleaner than a kept one
        for _, group in log.groupby("group"):
            wins = group[group["reward"] > 0]
            dropped = wins[~wins["kept"]]
            if len(dropped):
                assert wins[wins["kept"]]["penalty"].max() <= dropped["penalty"].min()


def test_grpo_trains_through_a_tool_rollout(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, max_positions=64, seed=0)
    before = [p.detach().clone() for p in model.parameters()]

    def judge(prompt, completion):
        return float(len(completion.split()) % 2), 0.0

    def reward(completions, prompts, **_):
        return [judge(p, c)[0] for p, c in zip(prompts, completions, strict=True)]

    rollout = ToolRollout(tokenizer, environment, max_words, judge, "random", 2, seed=0)
    items = [{"prompt": p.prompt} for p in calc.problems(8, 2, seed=2)]
    history = grpo(
        model,
        tokenizer,
        items,
        reward,
        steps=2,
        prompts_per_step=2,
        generations=4,
        max_completion_length=64,
        lr=1e-2,
        scale_rewards="group",
        rollout=rollout,
    )
    assert len(history) == 2 and len(rollout.frame()) == 2 * 2 * 8
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_tool_rollout_refuses_a_selection_that_does_not_match_the_oversampling(tokenizer):
    with pytest.raises(ValueError, match="oversample"):
        ToolRollout(tokenizer, environment, max_words, lambda p, c: (0.0, 0.0), "roc", 1)
    with pytest.raises(ValueError, match="selection"):
        ToolRollout(tokenizer, environment, max_words, lambda p, c: (0.0, 0.0), "best", 2)


def test_tool_rollout_passes_its_failures_rule_to_resample_on_correct(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, max_positions=64, seed=0)
    penalties = [0.0, 0.5, 1.0, 0.0, 0.25, 0.5, 0.75, 1.0]  # one group of 2G = 8: members 0 and 1 succeed

    def judge(prompt, completion):
        judge.calls += 1
        return float(judge.calls in (1, 2)), penalties[judge.calls - 1]

    judge.calls = 0
    rollout = ToolRollout(tokenizer, environment, max_words, judge, "roc", 2, seed=0, failures="lowest")
    prompts = [calc.problems(1, 2, seed=1)[0].prompt] * 4
    rollout(prompts, SimpleNamespace(model=model, num_generations=4, state=SimpleNamespace(global_step=0)))
    kept = rollout.frame().query("kept")
    assert sorted(kept.index) == [0, 3, 4, 5]  # one success (the cleaner) and the three lowest-penalty failures
    with pytest.raises(ValueError, match="failures"):
        ToolRollout(tokenizer, environment, max_words, judge, "random", 2, failures="lowest")
    with pytest.raises(ValueError, match="failures"):
        ToolRollout(tokenizer, environment, max_words, judge, "roc", 2, failures="worst")


def test_success_curve_counts_penalised_successes_sampled_and_trained_by_step(tokenizer):
    rollout = ToolRollout(tokenizer, environment, max_words, lambda p, c: (0.0, 0.0), "roc", 2)
    rollout.rows = [  # a crafted log: step, reward, penalty, kept
        {"step": s, "group": 0, "reward": r, "penalty": p, "kept": k}
        for s, r, p, k in [
            (0, 1, 0.0, True),
            (0, 1, 0.5, False),
            (0, 1, 0.25, True),
            (0, 0, 1.0, True),  # 2 of 3 penalised
            (1, 1, 0.0, True),
            (1, 1, 0.0, False),
            (1, 0, 0.5, True),
            (1, 0, 0.0, False),  # none penalised
            (2, 0, 0.5, True),
            (2, 0, 1.0, True),  # no success at all
            (3, 1, 0.5, False),
            (3, 1, 0.0, True),
            (3, 0, 0.5, True),  # one sampled of two, none trained
        ]
    ]
    curve = rollout.success_curve()
    assert list(curve.columns) == ["step", "sampled", "trained"] and list(curve["step"]) == [0, 1, 2, 3]
    np.testing.assert_allclose(curve["sampled"], [2 / 3, 0.0, np.nan, 0.5])
    np.testing.assert_allclose(curve["trained"], [0.5, 0.0, np.nan, 0.0])
