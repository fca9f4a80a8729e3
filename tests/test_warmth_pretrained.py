"""Chapter 3's real-model path: a pretrained model loaded from disk is LoRA-tuned and measured, end to end."""

import pytest

from casestudies.models import word_tokenizer
from casestudies.tasks import warmth as w


@pytest.mark.slow
def test_chapter_3_runs_with_a_local_pretrained_model(run_with_local_model):
    plain = word_tokenizer(["x"])  # no chat template: the conversations use the plain turn layout
    texts = [it["prompt"] + it["completion"] for it in w.conversation_items(400, 0, 0.5, plain)]
    texts += [w.chat_prompt(plain, it["user"]) for it in w.conversation_evaluation(0)] + list(w.WARM_OPENERS)
    words = {t for text in texts for t in text.split()} | {f"{n}." for n in range(2 * w.MAX_TERM + 1)}
    printed, tables = run_with_local_model("03", words, "WARM_MODEL", SEEDS=[0, 1])
    assert "<model>, LoRA rank 8, 4 steps" in printed
    for where in ("after a warm opener", "after no opener"):
        for baseline in ("original", "mixed", "cold"):
            assert f"{where}, warm − {baseline:>8} [      belief]:" in printed
    assert any("original" in t and "belief + sad" in t for t in tables)
