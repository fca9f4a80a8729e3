"""What every chapter notebook does around its experiment: open, start at a scale, conclude, sign off.

The set-up cell ends with `chapter = Chapter(name, title, globals())`; the parameters cell sets `SCALE`, `SEEDS`
and the chapter's knobs; `scale = chapter.start()` follows it; `chapter.plan(HYPOTHESES, DESIGN_SEEDS)` prints
the power plan before any training; `chapter.conclude(results, HYPOTHESES)` writes the results file and prints the
verdict; `print(chapter.provenance())` is the last line.
"""

from __future__ import annotations

import ast
import inspect
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
import torch

from casestudies import plots, stats
from casestudies.results import run_kind
from casestudies.scale import Scale, get_scale, validate_seed


def compact(seeds: Sequence[int]) -> str:
    """Seeds as short text: runs of consecutive seeds as ranges, `0-4, 10-14, 1000`."""
    parts: list[str] = []
    for seed in sorted(seeds):
        if parts and seed == int(parts[-1].split("-")[-1]) + 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{seed}"
        else:
            parts.append(str(seed))
    return ", ".join(parts) or "none"


class Chapter:
    """One chapter's run: its clock, its parameters as run, its scale, and its results file."""

    def __init__(self, name: str, title: str, namespace: dict):
        """Open the chapter at the end of its set-up cell (the clock starts); `namespace` is the notebook's
        `globals()`, read by `start` once the parameters cell has run."""
        self.name, self.title, self.namespace = name, title, namespace
        self.started = time.time()
        self._before = set(namespace)
        self.parameters: dict = {}
        self.custom_seeds = False
        self.scale: Scale | None = None
        self.design_seeds: list[int] | None = None
        self.plans: dict[str, stats.Plan] = {}

    def start(self, default_seeds: Sequence[int] | None = None) -> Scale:
        """Read `SCALE` and `SEEDS` from the notebook (`SEEDS = None`: `default_seeds`, else the scale's), record
        the parameters cell's values, set the theme and, without CUDA, one torch thread (fastest for these
        models), say when the run is only a smoke test; return the scale.

        The parameters are the names the notebook's `parameters` cell assigns, read from the notebook file in the
        working directory (where Jupyter, papermill and nbval run it), with the values they have now (papermill's
        overrides included); without that file, the upper-case names set since the set-up cell. A run on seeds
        the reader chose writes its results apart (see `stats.conclude`), never over the published ones.
        """
        for required in ("SCALE", "SEEDS"):
            if required not in self.namespace:
                raise NameError(f"the parameters cell must set {required} (None for the default)")
        names = parameter_names(Path(f"{self.name}.ipynb"))
        if names is None:
            names = [n for n in self.namespace if n not in self._before and n.isupper()]
        self.parameters, skipped = parameters(self.namespace, names)
        if skipped:
            print(f"not recorded as parameters (not plain data): {', '.join(skipped)}")
        seeds = self.namespace["SEEDS"]
        self.custom_seeds = seeds is not None
        self.scale = get_scale(self.namespace["SCALE"]).with_seeds(seeds if seeds is not None else default_seeds)
        plots.set_theme()
        if not torch.cuda.is_available():
            torch.set_num_threads(1)
        s = self.scale
        workers = stats.workers_for(len(s.seeds))
        how = f"in {workers} worker processes" if workers > 1 else "one after another"
        print(f"scale: {s.name} ({s.description}); seeds {list(s.seeds)}, run {how}")
        if s.wiring_check:
            what = "a dry run" if s.dry else "smoke scale"
            print(f"{what} checks that every cell runs: the numbers below are noise, not results.")
        if s.name == "cpu" and torch.cuda.is_available():
            print("a GPU is available: set SCALE = 'gpu' (or CASESTUDIES_SCALE=gpu) for wider models and more seeds")
        if self.custom_seeds:
            print("seeds chosen for this run: its results file goes to a 'custom' folder, apart from the book's")
        return s

    def plan(self, hypotheses: Sequence[stats.Hypothesis], design_seeds: Sequence[int]) -> dict[str, stats.Plan]:
        """Print the power plan of the headline and secondary hypotheses from the chapter's design run, before the
        run; `conclude` records it. Also checks the declarations, so a bad one fails before any training."""
        if self.scale is None:
            raise RuntimeError("call chapter.start() after the parameters cell first")
        self.design_seeds = [validate_seed(s) for s in design_seeds]
        kind = run_kind(self.scale.label, self.scale.seeds, self.design_seeds)
        print(
            f"design seeds {compact(self.design_seeds)}; this run's seeds {compact(self.scale.seeds)}: "
            + ("a confirmation run" if kind == stats.CONFIRMATION else "not a confirmation run (design seeds or smoke)")
        )
        headlines = [h for h in hypotheses if h.role == stats.HEADLINE]
        if not 1 <= len(headlines) <= 2:
            raise ValueError(f"declare one headline hypothesis (two at most), got {len(headlines)}")
        self.plans = stats.design_plan(self.name, hypotheses, n=len(self.scale.seeds))
        if not self.plans:
            print("power plan: no design run of this chapter's hypotheses to plan from")
        for h in hypotheses:
            if h.role != stats.CHECK:
                plan = self.plans.get(h.name)
                print(
                    f"  {h.name} ({h.role}): "
                    + (plan.describe() if plan else f"not in the design run; sesoi {h.sesoi:g}")
                )
        return self.plans

    def conclude(self, results: pd.DataFrame, hypotheses: Sequence[stats.Hypothesis]) -> stats.Verdict:
        """The verdict from the tidy results, written to the chapter's results file and printed."""
        if self.scale is None or self.design_seeds is None:
            raise RuntimeError("call chapter.start() after the parameters cell, then chapter.plan(...), first")
        return stats.conclude(
            self.name,
            self.title,
            results,
            hypotheses,
            self.scale,
            wall_time_s=time.time() - self.started,
            design_seeds=self.design_seeds,
            parameters=self.parameters,
            custom_seeds=self.custom_seeds,
            plan=self.plans,
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
            f"Run at scale '{self.scale.label}' with seeds {list(self.scale.seeds)} in {minutes:.1f} min wall time on "
            f"{stats.usable_cores()} CPU cores ({device}); casestudies {__version__}, torch {env['torch']}, "
            f"transformers {env['transformers']}, trl {env['trl']}, Python {env['python']}, "
            f"commit {stats.git_commit() or 'unknown'}."
        )


def parameter_names(notebook: Path) -> list[str] | None:
    """The names a notebook's cell tagged `parameters` assigns, in order; None without the file or the cell."""
    if not notebook.is_file():
        return None
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse("".join(cell["source"]))
            targets = [t for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign) for t in _targets(node)]
            return list(dict.fromkeys(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)))
    return None


def _targets(node: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


def parameters(namespace: dict, names: Iterable[str]) -> tuple[dict, list[str]]:
    """The values of `names` in `namespace` as JSON-ready data, and the names whose values are not plain data."""
    chosen, skipped = {}, []
    for name in names:
        if name not in namespace:
            continue
        try:
            chosen[name] = json.loads(json.dumps(namespace[name], default=stats.json_default))
        except (TypeError, ValueError):
            skipped.append(name)
    return chosen, skipped


def show_source(*objects) -> None:
    """Display the source of functions or classes as one highlighted code block (Markdown in Jupyter)."""
    source = "\n\n".join(inspect.getsource(obj).rstrip() for obj in objects)
    try:
        from IPython.display import Markdown, display

        display(Markdown(f"```python\n{source}\n```"))
    except ImportError:  # plain Python: print it
        print(source)


def show_table(table: pd.DataFrame, width: int = stats.TABLE_WIDTH) -> None:
    """Display a results table as `stats.column_groups` cuts it, one table under another, so it fits the book's
    column."""
    from IPython.display import display

    for part in stats.column_groups(table, width):
        display(part)
