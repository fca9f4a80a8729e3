"""Scale presets, their selection, chapter budgets by scale, and seeds from a command line."""

import numpy as np
import pytest

from casestudies.scale import PILOT_SEEDS_FROM, SCALES, get_scale, parse_seeds, scale_name, validate_seed


def test_env_var_selects_scale(monkeypatch):
    monkeypatch.setenv("CASESTUDIES_SCALE", "smoke")
    assert get_scale().name == "smoke"
    assert get_scale("CPU").name == "cpu"


def test_unknown_scale_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("CASESTUDIES_SCALE", "huge")
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        get_scale()


@pytest.mark.parametrize("cuda", [False, True])
def test_default_is_cpu_even_on_a_gpu_until_the_gpu_path_is_measured(monkeypatch, cuda):
    monkeypatch.delenv("CASESTUDIES_SCALE", raising=False)
    monkeypatch.setattr("torch.cuda.is_available", lambda: cuda)
    assert get_scale().name == "cpu"


@pytest.mark.parametrize("given", ["SMOKE", " Smoke", "smoke\n"])
def test_scale_names_are_normalised_in_one_place(given):
    assert scale_name(given) == "smoke" and get_scale(given).name == "smoke"


def test_presets_report_confirmation_seeds_at_cpu_and_gpu_never_pilot_seeds():
    smoke, cpu, gpu = SCALES["smoke"], SCALES["cpu"], SCALES["gpu"]
    assert cpu.seeds == tuple(range(20, 26)) and gpu.seeds == tuple(range(20, 28))
    assert all(s < PILOT_SEEDS_FROM for preset in SCALES.values() for s in preset.seeds)
    # a GPU buys width, depth, seeds and evaluation items, not steps (per-step overhead dominates tiny models)
    assert (gpu.sft_steps, gpu.rl_steps) == (cpu.sft_steps, cpu.rl_steps)
    assert gpu.width > cpu.width > smoke.width and gpu.eval_items > cpu.eval_items > smoke.eval_items


def test_pick_gives_each_scale_its_budget_and_gpu_defaults_to_cpu():
    assert [SCALES[n].pick(smoke=1, cpu=2) for n in ("smoke", "cpu", "gpu")] == [1, 2, 2]
    assert SCALES["gpu"].pick(smoke=1, cpu=2, gpu=3) == 3
    assert SCALES["cpu"].pick(smoke=1, cpu=2, override=0) == 0  # 0 is a value, not "unset"
    assert SCALES["cpu"].pick(smoke=1, cpu=2, override=None) == 2


@pytest.mark.parametrize("flag", ["1", "yes", "TRUE"])
def test_a_dry_run_takes_the_gpu_code_paths_with_smoke_sizes_and_budgets(monkeypatch, flag):
    monkeypatch.setenv("CASESTUDIES_DRY", flag)
    scale, gpu, smoke = get_scale("gpu"), SCALES["gpu"], SCALES["smoke"]
    assert scale.dry and scale.name == "gpu" and scale.label == "gpu (dry run)" and scale.wiring_check == "dry"
    assert (scale.width, scale.depth, scale.heads) == (smoke.width, smoke.depth, smoke.heads)
    assert (scale.sft_steps, scale.rl_steps, scale.eval_items) == (smoke.sft_steps, smoke.rl_steps, smoke.eval_items)
    assert scale.seeds == gpu.seeds[:2] and scale.with_seeds(range(20, 25)).seeds == (20, 21)  # a chapter's own too
    assert scale.pick(smoke=4, cpu=100, gpu=300) == 4 and scale.pick(smoke=0.0, cpu=0.2) == 0.0  # budgets capped
    assert scale.pick(smoke=150, cpu=None) == 150
    assert scale.pick(smoke=None, cpu=None, gpu="a/model") == "a/model"  # code paths: the gpu value
    assert scale.pick(smoke=[], cpu=[], gpu=["honest"]) == ["honest"]
    assert scale.pick(smoke=4, cpu=100, override=50) == 50
    assert scale.pick(smoke=14, cpu=14, gpu=33, cap=False) == 33  # a task's size: the gpu task itself
    assert scale.pick(smoke=np.int64(4), cpu=100) == 4
    assert scale.pick(smoke=True, cpu=False, gpu=False) is False  # a switch is not a budget
    assert not get_scale("cpu").dry and not get_scale("smoke").dry  # only the gpu preset has a dry run


@pytest.mark.parametrize("flag", ["", "0", "no", "false", "off"])
def test_without_the_dry_flag_gpu_is_the_real_preset(monkeypatch, flag):
    monkeypatch.setenv("CASESTUDIES_DRY", flag)
    assert get_scale("gpu") == SCALES["gpu"] and SCALES["gpu"].label == "gpu"
    assert [SCALES[n].wiring_check for n in ("smoke", "cpu", "gpu")] == ["smoke", None, None]


@pytest.mark.parametrize("bad", [-1, -3, 2**32, 2**64, 1.5, "a", True])
def test_bad_seeds_fail_at_once_with_one_message(bad):
    with pytest.raises(ValueError, match="a seed must be a whole number from 0 to 4294967295"):
        validate_seed(bad)
    with pytest.raises(ValueError, match="a seed must be a whole number from 0"):
        SCALES["smoke"].with_seeds([0, bad])
    assert validate_seed(2**32 - 1) == 2**32 - 1 and validate_seed("7") == 7


@pytest.mark.parametrize(
    "given, seeds",
    [
        ([7, 8], (7, 8)),
        ((3,), (3,)),
        (7, (7,)),
        ("[11, 12, 13]", (11, 12, 13)),
        ("11,12, 13", (11, 12, 13)),
        ("5", (5,)),
    ],
)
def test_with_seeds_takes_lists_and_command_line_strings(given, seeds):
    assert get_scale("smoke").with_seeds(given).seeds == seeds


def test_with_seeds_rejects_what_is_not_a_list_of_distinct_seeds():
    assert get_scale("smoke").with_seeds(None).seeds == get_scale("smoke").seeds
    for bad in ([], "[]", "[1, 1]", "eleven", "[1.5]", ["a"], [True], 2.5):
        with pytest.raises(ValueError, match="seed"):
            get_scale("smoke").with_seeds(bad)
    assert parse_seeds(" [1, 2] ") == [1, 2]
