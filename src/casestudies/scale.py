"""Scale presets: one notebook, three sizes of experiment.

Every chapter reads its sizes (steps, seeds, model width, eval set size) from the
preset chosen here, so the same cells run in CI (`smoke`), on a laptop (`cpu`)
and on one GPU (`gpu`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import torch

ENV_VAR = "CASESTUDIES_SCALE"


@dataclass(frozen=True)
class Scale:
    """Sizes shared by every chapter at one scale; chapters derive their knobs from these."""

    name: str
    seeds: tuple[int, ...]
    width: int
    depth: int
    heads: int
    sft_steps: int
    rl_steps: int
    prompts_per_step: int
    generations: int
    eval_items: int
    bootstrap: int
    description: str

    def with_seeds(self, seeds: list[int] | tuple[int, ...] | None) -> Scale:
        """Return the same preset with other seeds (`None` keeps the preset's)."""
        if seeds is None:
            return self
        seeds = tuple(int(s) for s in seeds)
        if not seeds:
            raise ValueError("seeds must name at least one seed")
        return replace(self, seeds=seeds)


SCALES: dict[str, Scale] = {
    "smoke": Scale(
        name="smoke",
        seeds=(0, 1, 2),
        width=32,
        depth=1,
        heads=2,
        sft_steps=60,
        rl_steps=10,
        prompts_per_step=8,
        generations=8,
        eval_items=150,
        bootstrap=500,
        description="CI check that every cell runs; numbers are noise",
    ),
    "cpu": Scale(
        name="cpu",
        seeds=(0, 1, 2),
        width=64,
        depth=2,
        heads=4,
        sft_steps=400,
        rl_steps=500,
        prompts_per_step=8,
        generations=8,
        eval_items=600,
        bootstrap=5000,
        description="the published book: at most 10 minutes on 2 CPU cores",
    ),
    "gpu": Scale(
        name="gpu",
        seeds=(0, 1, 2, 3, 4, 5, 6, 7),
        width=256,
        depth=4,
        heads=8,
        sft_steps=1500,
        rl_steps=800,
        prompts_per_step=16,
        generations=8,
        eval_items=3000,
        bootstrap=10000,
        description="one GPU, at most 30 minutes: wider, deeper, more seeds",
    ),
}


def default_scale_name() -> str:
    """The scale used when none is named: `gpu` if CUDA is available, else `cpu`."""
    return "gpu" if torch.cuda.is_available() else "cpu"


def get_scale(name: str | None = None) -> Scale:
    """Return the preset called `name`, else `$CASESTUDIES_SCALE`, else the default.

    Raises `ValueError` listing the valid names when the name is unknown.
    """
    chosen = name if name is not None else os.environ.get(ENV_VAR) or default_scale_name()
    key = str(chosen).strip().lower()
    if key not in SCALES:
        valid = ", ".join(SCALES)
        raise ValueError(f"unknown scale {chosen!r}: choose one of {valid} (set {ENV_VAR} or pass the name)")
    return SCALES[key]
