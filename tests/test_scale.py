"""Scale presets and their selection."""

import pytest

from casestudies.scale import SCALES, get_scale


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


def test_presets_grow_and_have_enough_seeds():
    smoke, cpu, gpu = SCALES["smoke"], SCALES["cpu"], SCALES["gpu"]
    assert smoke.rl_steps < cpu.rl_steps < gpu.rl_steps
    assert len(cpu.seeds) >= 3 and len(gpu.seeds) > len(cpu.seeds)


def test_with_seeds_overrides_and_validates():
    assert get_scale("smoke").with_seeds([7, 8]).seeds == (7, 8)
    assert get_scale("smoke").with_seeds(None).seeds == get_scale("smoke").seeds
    with pytest.raises(ValueError):
        get_scale("smoke").with_seeds([])
