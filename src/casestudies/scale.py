"""Scale presets: one notebook, three sizes of experiment.

Every chapter reads its sizes (steps, seeds, model width, eval set size) from the preset chosen here, so the
same cells run in CI (`smoke`), on a laptop (`cpu`) and on one GPU (`gpu`). What only one chapter needs comes
from `Scale.pick`, never from a dictionary keyed by scale name.
"""

from __future__ import annotations

import json
import numbers
import operator
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

ENV_VAR = "CASESTUDIES_SCALE"
DRY_VAR = "CASESTUDIES_DRY"  # set (to 1) with the `gpu` scale: its code paths on CPU with `smoke` budgets
PILOT_SEEDS_FROM = 1000  # pilots and explorations use seeds >= this, never a reported seed

T = TypeVar("T")


@dataclass(frozen=True)
class Scale:
    """Sizes shared by every chapter at one scale; chapter-specific budgets come from `pick`."""

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
    description: str
    dry: bool = False

    @property
    def label(self) -> str:
        """The name a results file records: the preset's, marked when this is a dry run."""
        return f"{self.name} (dry run)" if self.dry else self.name

    @property
    def wiring_check(self) -> str | None:
        """`smoke` or `dry` for a run that only checks the code runs (its results go to a folder of that name and
        its numbers are noise); None for a run whose numbers count."""
        return "dry" if self.dry else "smoke" if self.name == "smoke" else None

    def with_seeds(self, seeds: Iterable[int] | int | str | None) -> Scale:
        """The same preset with other seeds (`None` keeps the preset's); a dry run keeps only the first two.

        Accepts a list, one seed, or the string a command line passes (`"[11, 12, 13]"` or `"11,12,13"`).
        """
        if seeds is None:
            return self
        if isinstance(seeds, str):
            seeds = parse_seeds(seeds)
        elif not isinstance(seeds, Iterable):
            seeds = [seeds]
        chosen = tuple(validate_seed(s) for s in seeds)
        if not chosen:
            raise ValueError("seeds must name at least one seed")
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"seeds must differ, got {list(chosen)}")
        return replace(self, seeds=chosen[: len(self.seeds)] if self.dry else chosen)

    def pick(self, smoke: T, cpu: T, gpu: T | None = None, override: T | None = None, cap: bool = True) -> T:
        """A chapter's own budget at this scale, or `override` when it is not None (a reader's value from the
        parameters cell; 0 is a value, not "unset"). `gpu` defaults to the `cpu` value (tiny models are bound by
        per-step overhead on a GPU, so the `gpu` scale buys width and seeds, not steps). In a dry run a number
        is capped at its `smoke` value unless `cap` is False (a task's size, not a budget); anything else (a model
        name, a list of arms) is the `gpu` one."""
        if override is not None:
            return override
        if self.dry and cap and is_number(smoke):
            return smoke
        return {"smoke": smoke, "cpu": cpu, "gpu": cpu if gpu is None else gpu}[self.name]


def is_number(value: object) -> bool:
    """Whether `value` is an int or float (not a bool): a budget a dry run may cap."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def parse_seeds(text: str) -> list[int]:
    """Seeds from a string: a JSON list (`"[11, 12, 13]"`) or comma-separated (`"11, 12, 13"`)."""
    stripped = text.strip()
    try:
        value = json.loads(stripped) if stripped.startswith("[") else [p for p in stripped.split(",") if p.strip()]
        return [validate_seed(v) for v in value]
    except ValueError:
        raise ValueError(f"cannot read seeds from {text!r}: write e.g. '[11, 12, 13]' or '11,12,13'") from None


SEED_LIMIT = 2**32  # NumPy's and torch's generators both accept seeds in [0, 2**32)


def validate_seed(value) -> int:
    """A seed as a whole number in [0, 2**32), the range NumPy and torch both accept, from an int-like value or
    its text; 1.5, "a", -1 or 2**64 is an error with one message, raised before any training starts."""
    message = f"a seed must be a whole number from 0 to {SEED_LIMIT - 1}, got {value!r}"
    if isinstance(value, bool):
        raise ValueError(message)
    try:
        seed = int(value.strip()) if isinstance(value, str) else operator.index(value)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(message)
    return seed


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
        description="CI check that every cell runs; numbers are noise",
    ),
    "cpu": Scale(
        name="cpu",
        seeds=(20, 21, 22, 23, 24, 25),
        width=64,
        depth=2,
        heads=4,
        sft_steps=400,
        rl_steps=500,
        prompts_per_step=8,
        generations=8,
        eval_items=600,
        description="the published book: at most 10 minutes on 2 CPU cores, confirmation seeds run in parallel",
    ),
    "gpu": Scale(
        name="gpu",
        seeds=(20, 21, 22, 23, 24, 25, 26, 27),
        width=256,
        depth=4,
        heads=8,
        sft_steps=400,
        rl_steps=500,
        prompts_per_step=8,
        generations=8,
        eval_items=3000,
        description="one GPU, at most 30 minutes: the cpu step counts, wider and deeper models, eight seeds",
    ),
}


def dry_run() -> bool:
    """Whether `$CASESTUDIES_DRY` asks for dry runs (any value but empty, 0, false, no or off)."""
    return os.environ.get(DRY_VAR, "").strip().lower() not in ("", "0", "false", "no", "off")


def dry(scale: Scale) -> Scale:
    """`scale`'s dry run: its code paths with `smoke`'s model sizes, step counts, evaluation sizes and two seeds,
    so CI runs on CPU every line a reader at that scale runs (`pick` caps the chapters' own budgets). A
    `gpu`-sized model costs about 250 times a `smoke` one per step on one CPU thread, and runs the same lines."""
    small = SCALES["smoke"]
    return replace(
        scale,
        dry=True,
        seeds=scale.seeds[:2],
        width=small.width,
        depth=small.depth,
        heads=small.heads,
        sft_steps=small.sft_steps,
        rl_steps=small.rl_steps,
        prompts_per_step=small.prompts_per_step,
        generations=small.generations,
        eval_items=small.eval_items,
        description=f"a dry run of the {scale.name} path on CPU with smoke budgets; numbers are noise",
    )


def default_scale_name() -> str:
    """The scale used when none is named: `cpu`, also on a GPU runtime, until the chapters' `gpu` path has been
    timed on a real GPU (`benchmarks/timings.json`); a reader on a GPU chooses it with `CASESTUDIES_SCALE=gpu`."""
    return "cpu"


def scale_name(chosen: str) -> str:
    """The preset name `chosen` means (`" Smoke"` is `smoke`): the one definition `dev.py` and the notebooks share.

    Raises `ValueError` listing the valid names when the name is unknown.
    """
    key = str(chosen).strip().lower()
    if key not in SCALES:
        valid = ", ".join(SCALES)
        raise ValueError(f"unknown scale {chosen!r}: choose one of {valid} (set {ENV_VAR} or pass the name)")
    return key


def get_scale(name: str | None = None) -> Scale:
    """Return the preset called `name`, else `$CASESTUDIES_SCALE`, else the default (see `scale_name`); the
    `gpu` preset's dry run (see `dry`) when `$CASESTUDIES_DRY` is set."""
    chosen = name if name is not None else os.environ.get(ENV_VAR) or default_scale_name()
    scale = SCALES[scale_name(chosen)]
    return dry(scale) if scale.name == "gpu" and dry_run() else scale
