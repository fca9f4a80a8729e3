"""Shared fixtures: a chapter executed at `smoke` scale with a tiny model saved to disk as its "pretrained" one."""

import json
from pathlib import Path

import pytest

from casestudies.models import tiny_causal_lm, word_tokenizer

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture
def run_with_local_model(tmp_path, monkeypatch):
    """`run(chapter, words, parameter, **parameters)`: save a tiny model over `words` with `save_pretrained`,
    execute the chapter at smoke scale with `parameter` naming its folder, and return (printed text, the
    text/plain outputs) of the executed copy. Results files go to a temporary folder."""
    papermill = pytest.importorskip("papermill")

    def run(chapter: str, words: set[str], parameter: str, **parameters) -> tuple[str, list[str]]:
        tokenizer = word_tokenizer(sorted(words))
        folder = tmp_path / "pretrained"
        tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, max_positions=64, seed=0).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        monkeypatch.setenv("CASESTUDIES_RESULTS_DIR", str(tmp_path / "results"))
        out = tmp_path / "chapter.ipynb"
        notebook = next(NOTEBOOKS.glob(f"{chapter}-*.ipynb"))
        papermill.execute_notebook(
            str(notebook),
            str(out),
            parameters={"SCALE": "smoke", parameter: str(folder), **parameters},
            cwd=str(NOTEBOOKS),
            kernel_name="python3",
            progress_bar=False,
        )
        outputs = [o for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])]
        printed = "".join("".join(o.get("text", "")) for o in outputs)
        tables = ["".join(o["data"]["text/plain"]) for o in outputs if "text/plain" in o.get("data", {})]
        return printed.replace(str(folder), "<model>"), tables

    return run
