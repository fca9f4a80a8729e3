"""Chapter 3's real-model path: a pretrained model loaded from disk is LoRA-tuned and measured, end to end."""

import json
from pathlib import Path

import pytest

from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks import warmth as w

CHAPTER = Path(__file__).resolve().parents[1] / "notebooks" / "03-warmth-sycophancy.ipynb"


def test_chapter_3_runs_with_a_local_pretrained_model(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    texts = [it["prompt"] + it["completion"] for it in w.conversation_items(400, 0, 0.5)]
    texts += [it["prompt"] for it in w.conversation_evaluation(0)]
    words = {t for text in texts for t in text.split()} | {f"{n}." for n in range(2 * w.MAX_TERM + 1)}
    tokenizer = word_tokenizer(sorted(words))
    folder = tmp_path / "instruct"
    tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, max_positions=64, seed=0).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    monkeypatch.setenv("CASESTUDIES_RESULTS_DIR", str(tmp_path / "results"))
    out = tmp_path / "chapter.ipynb"
    papermill.execute_notebook(
        str(CHAPTER),
        str(out),
        parameters={"SCALE": "smoke", "SEEDS": [0, 1], "WARM_MODEL": str(folder)},
        cwd=str(CHAPTER.parent),
        kernel_name="python3",
        progress_bar=False,
    )
    outputs = [o for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])]
    printed = "".join("".join(o.get("text", "")) for o in outputs)
    assert f"{folder}, LoRA rank 8, 4 steps" in printed
    for baseline in ("original", "mixed", "cold"):
        assert f"warm − {baseline:>8} [      belief]:" in printed
    tables = ["".join(o["data"]["text/plain"]) for o in outputs if "text/plain" in o.get("data", {})]
    assert any("original" in t and "belief + sad" in t for t in tables)
