"""Chapter 4's `gpu`-scale path: a pretrained judge loaded from disk joins the analysis, end to end."""

import json
from pathlib import Path

import pytest

from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks.judge import LETTERS, SCORES, instruct_prompt, judge_items

CHAPTER = Path(__file__).resolve().parents[1] / "notebooks" / "04-temperature-zero-consistency.ipynb"


def test_chapter_4_runs_with_a_local_pretrained_judge(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    words = {w for it in judge_items(400, seed=0) for w in instruct_prompt(it).split()} | set(LETTERS) | set(SCORES)
    tokenizer = word_tokenizer(sorted(words))
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, max_positions=64, seed=0)
    folder = tmp_path / "judge"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    monkeypatch.setenv("CASESTUDIES_RESULTS_DIR", str(tmp_path / "results"))
    out = tmp_path / "chapter.ipynb"
    papermill.execute_notebook(
        str(CHAPTER),
        str(out),
        parameters={"SCALE": "smoke", "SEEDS": [0], "JUDGE_MODEL": str(folder)},
        cwd=str(CHAPTER.parent),
        kernel_name="python3",
        progress_bar=False,
    )
    outputs = [o for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])]
    printed = "".join("".join(o.get("text", "")) for o in outputs)
    tables = [
        "".join(o["data"]["text/plain"])
        for o in outputs
        if "data" in o and "text/plain" in o["data"] and "ICC(1)" in "".join(o["data"]["text/plain"])
    ]
    assert "judges: ['trained', 'weak', 'shuffled', 'pretrained']" in printed
    assert len(tables) == 1 and "pretrained" in tables[0]  # the reliability table has the pretrained judge's rows
    assert "VERDICT" in printed
