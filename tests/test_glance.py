"""The "at a glance" box and the home page's verdict table, on a crafted results record."""

import json

from casestudies.glance import glance, not_run, page_title, seed_span, sentence, signed, verdict_table


def record(run="confirmation", seeds=(20, 21, 22, 23, 24)):
    """A results record with one headline, one secondary and one check."""
    base = {"metric": "brier", "arm": "rlcr", "baseline": "constant", "condition": "", "n_seeds": 5}
    return {
        "chapter": "01-demo",
        "title": "a demo finding",
        "scale": "cpu",
        "seeds": list(seeds),
        "run": run,
        "wall_time_s": 444.0,
        "verdict": "reproduced",
        "hypotheses": [
            {
                **base,
                "name": "H1",
                "claim": "the term calibrates",
                "role": "headline",
                "estimate": -0.0461,
                "ci_low": -0.0604,
                "ci_high": -0.0318,
                "n_agree": 5,
            },
            {
                **base,
                "name": "H2",
                "claim": "other",
                "role": "secondary",
                "estimate": 0.5,
                "ci_low": 0.1,
                "ci_high": 0.9,
                "n_agree": 4,
            },
            {
                **base,
                "name": "H3",
                "claim": "check",
                "role": "check",
                "estimate": 0.0,
                "ci_low": 0.0,
                "ci_high": 0.0,
                "n_agree": 0,
            },
        ],
    }


def test_numbers_are_signed_with_a_true_minus_and_zero_has_no_sign():
    assert signed(-0.0461) == "−0.046"
    assert signed(0.345) == "+0.345"
    assert signed(-0.0004) == "0.000"
    assert signed(None) == signed(float("nan")) == "n/a"


def test_consecutive_seeds_read_as_a_range_others_as_a_list():
    assert seed_span([24, 20, 21, 22, 23]) == "20–24"
    assert seed_span([0, 2, 5]) == "0, 2, 5"
    assert seed_span([3, 4]) == "3, 4"


def test_the_box_states_the_headline_only_with_its_interval_seeds_run_and_toy():
    text = glance(record(), "a toy task")
    assert text.startswith(":::{admonition} At a glance") and text.rstrip().endswith(":::")
    assert "**Verdict: REPRODUCED.**" in text
    assert "H1 (brier, rlcr − constant) −0.046 [−0.060, −0.032], 5 of 5 seeds" in text
    assert "H2" not in text and "H3" not in text  # secondary and check stay in the chapter
    assert "The term calibrates." in text and "A toy task." in text
    assert "confirmation run at `cpu` on seeds 20–24" in text and "7.4 min on 2 CPU cores" in text


def test_a_design_seed_run_is_marked_provisional_in_the_box_and_the_table():
    design = record(run="design", seeds=range(5))
    assert "**provisional** run on design seeds 0–4" in glance(design, "toy")
    table = verdict_table([record(), design], {"01-demo": "[demo](x)"})
    rows = table.strip().splitlines()
    assert rows[0].startswith("| chapter | verdict |") and len(rows) == 4
    assert rows[2] == "| [demo](x) | reproduced | H1 −0.046 [−0.060, −0.032] | 20–24 |"
    assert "reproduced (provisional)" in rows[3] and "| 0–4 |" in rows[3]


def test_sentences_get_a_capital_and_one_full_stop():
    assert sentence(" abc") == "Abc."
    assert sentence("Done.") == "Done."
    assert "No run" in not_run()


def test_the_page_title_is_the_first_heading_without_its_number(tmp_path):
    notebook = tmp_path / "n.ipynb"
    cell = {"cell_type": "markdown", "metadata": {}, "source": ["# 3. Does warmth raise errors?\n", "\n", "text"]}
    notebook.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert page_title(notebook) == "Does warmth raise errors?"
