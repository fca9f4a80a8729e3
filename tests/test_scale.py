"""Scale presets, their selection, chapter budgets by scale, and seeds from a command line."""

import pytest

from casestudies.scale import PILOT_SEEDS_FROM, SCALES, get_scale, parse_seeds


def test_env_var_selects_scale(monkeypatch):
    monkeypatch.setenv("CASESTUDIES_SCALE", "smoke")
    assert get_scale().name == "smoke"
    assert get_scale("CPU").name == "cpu"


def test_unknown_scale_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("CASESTUDIES_SCALE", "huge")
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        get_scale()


def test_default_is_cpu_without_cuda(monkeypatch):
    monkeypatch.delenv("CASESTUDIES_SCALE", raising=False)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert get_scale().name == "cpu"


def test_presets_report_five_seeds_at_cpu_and_eight_at_gpu_never_pilot_seeds():
    smoke, cpu, gpu = SCALES["smoke"], SCALES["cpu"], SCALES["gpu"]
    assert cpu.seeds == (0, 1, 2, 3, 4) and len(gpu.seeds) >= 8
    assert all(s < PILOT_SEEDS_FROM for preset in SCALES.values() for s in preset.seeds)
    # a GPU buys width, depth, seeds and evaluation items, not steps (per-step overhead dominates tiny models)
    assert (gpu.sft_steps, gpu.rl_steps) == (cpu.sft_steps, cpu.rl_steps)
    assert gpu.width > cpu.width > smoke.width and gpu.eval_items > cpu.eval_items > smoke.eval_items


def test_pick_gives_each_scale_its_budget_and_gpu_defaults_to_cpu():
    assert [SCALES[n].pick(smoke=1, cpu=2) for n in ("smoke", "cpu", "gpu")] == [1, 2, 2]
    assert SCALES["gpu"].pick(smoke=1, cpu=2, gpu=3) == 3


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
