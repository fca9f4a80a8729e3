"""What every chapter notebook does around its experiment: open, start at a scale, conclude, sign off.

The set-up cell ends with `chapter = Chapter(name, title, globals())`; the parameters cell sets `SCALE`, `SEEDS`
and the chapter's knobs; `scale = chapter.start()` follows it; `chapter.conclude(results, HYPOTHESES)` prints the
verdict and writes the results file; `print(chapter.provenance())` is the last line.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Sequence

import pandas as pd
import torch

from casestudies import plots, stats
from casestudies.scale import Scale, get_scale


class Chapter:
    """One chapter's run: its clock, its parameters as run, its scale, and its results file."""

    def __init__(self, name: str, title: str, namespace: dict):
        """Open the chapter at the end of its set-up cell; `namespace` is the notebook's `globals()`, read again
        by `start` to find the values the parameters cell set."""
        self.name, self.title, self.namespace = name, title, namespace
        self.started = time.time()
        self._before = set(namespace)
        self.parameters: dict = {}
        self.scale: Scale | None = None

    def start(self) -> Scale:
        """Read `SCALE` and `SEEDS` from the notebook, record the parameters cell's values, set the theme and one
        torch thread (fastest for these models), say so when the run is only a smoke test; return the scale."""
        for required in ("SCALE", "SEEDS"):
            if required not in self.namespace:
                raise NameError(f"the parameters cell must set {required} (None for the default)")
        self.parameters = {
            k: _plain(v) for k, v in self.namespace.items() if k not in self._before and k.isupper() and _is_plain(v)
        }
        self.scale = get_scale(self.namespace["SCALE"]).with_seeds(self.namespace["SEEDS"])
        plots.set_theme()
        if not torch.cuda.is_available():
            torch.set_num_threads(1)
        s = self.scale
        how = "in parallel worker processes" if s.parallel_seeds and len(s.seeds) > 1 else "one after another"
        print(f"scale: {s.name} ({s.description}); seeds {list(s.seeds)}, run {how}")
        if s.name == "smoke":
            print("smoke scale checks that every cell runs: the numbers below are noise, not results.")
        return s

    def conclude(self, results: pd.DataFrame, hypotheses: Sequence[stats.Hypothesis]) -> stats.Verdict:
        """The verdict from the tidy results, printed and written to the chapter's results file."""
        if self.scale is None:
            raise RuntimeError("call chapter.start() after the parameters cell first")
        return stats.conclude(
            self.name,
            self.title,
            results,
            hypotheses,
            self.scale,
            wall_time_s=time.time() - self.started,
            parameters=self.parameters,
        )

    def provenance(self) -> str:
        """One line for the end of a chapter: scale, seeds, wall time, package and library versions."""
        from casestudies import __version__

        if self.scale is None:
            raise RuntimeError("call chapter.start() after the parameters cell first")
        env = stats.environment()
        minutes = (time.time() - self.started) / 60
        device = f"CUDA: {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "no GPU"
        return (
            f"Run at scale '{self.scale.name}' with seeds {list(self.scale.seeds)} in {minutes:.1f} min wall time on "
            f"{stats.usable_cores()} CPU cores ({device}); casestudies {__version__}, torch {env['torch']}, "
            f"transformers {env['transformers']}, trl {env['trl']}, Python {env['python']}, "
            f"commit {stats.git_commit() or 'unknown'}."
        )


def _is_plain(value) -> bool:
    """A parameter worth recording: JSON-writable data (not a module, function or model)."""
    try:
        json.dumps(_plain(value))
    except TypeError:
        return False
    return True


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def show_source(*objects) -> None:
    """Display the source of functions or classes as one highlighted code block (Markdown in Jupyter)."""
    source = "\n\n".join(inspect.getsource(obj).rstrip() for obj in objects)
    try:
        from IPython.display import Markdown, display

        display(Markdown(f"```python\n{source}\n```"))
    except ImportError:  # plain Python: print it
        print(source)
