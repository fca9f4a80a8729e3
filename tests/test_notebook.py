"""The chapter contract: start reads the parameters cell, records its values, and routes custom seeds apart."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from casestudies import stats
from casestudies.notebook import Chapter, parameter_names, parameters
from casestudies.scale import SCALES

ROOT = Path(__file__).resolve().parents[1]


def write_notebook(folder: Path, name: str, parameters_cell: str) -> None:
    cells = [
        {"cell_type": "code", "metadata": {"tags": ["hide-input"]}, "source": "import numpy as np\nLIMIT = 3\n"},
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": parameters_cell},
    ]
    (folder / f"{name}.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}}))


def test_parameter_names_are_what_the_parameters_cell_assigns(tmp_path):
    write_notebook(
        tmp_path, "00-a", "SCALE = None  # a comment\nSEEDS = None\nN_TRAIN, N_TEST = 4, 8\nBETA: float = 0.1\n"
    )
    assert parameter_names(tmp_path / "00-a.ipynb") == ["SCALE", "SEEDS", "N_TRAIN", "N_TEST", "BETA"]
    assert parameter_names(tmp_path / "missing.ipynb") is None


def test_every_chapter_has_a_parameters_cell_with_scale_and_seeds():
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        names = parameter_names(notebook)
        assert names is not None and names[:2] == ["SCALE", "SEEDS"], notebook.name


def test_parameters_keep_plain_data_and_name_the_rest():
    namespace = {"BETA": 0.05, "SIZES": (1, 2), "MIX": {"a": 0.5}, "N": np.int64(3), "MODEL": object()}
    chosen, skipped = parameters(namespace, ["BETA", "SIZES", "MIX", "N", "MODEL", "ABSENT"])
    assert chosen == {"BETA": 0.05, "SIZES": [1, 2], "MIX": {"a": 0.5}, "N": 3}
    assert skipped == ["MODEL"]


def test_start_reads_the_notebook_file_and_ignores_the_set_up_cells_names(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_notebook(tmp_path, "00-test", "SCALE = None\nSEEDS = None\nBETA = 0.1\n")
    namespace = {"np": np, "LIMIT": 3}
    chapter = Chapter("00-test", "a test", namespace)
    namespace.update(SCALE="smoke", SEEDS=None, BETA=0.2)  # the parameters cell, with a papermill override
    scale = chapter.start()
    assert scale == SCALES["smoke"] and not chapter.custom_seeds
    assert chapter.parameters == {"SCALE": "smoke", "SEEDS": None, "BETA": 0.2}
    assert "smoke scale checks" in capsys.readouterr().out


def test_without_the_file_the_names_set_after_the_set_up_cell_are_the_parameters(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"np": np, "LIMIT": 3}
    chapter = Chapter("00-test", "a test", namespace)
    namespace.update(SCALE="cpu", SEEDS=None, BETA=0.2, lower=1)
    assert chapter.start(default_seeds=range(9)).seeds == tuple(range(9))
    assert chapter.parameters == {"SCALE": "cpu", "SEEDS": None, "BETA": 0.2}


def test_start_needs_scale_and_seeds_and_conclude_needs_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NameError, match="SEEDS"):
        Chapter("00", "t", {"SCALE": None}).start()
    with pytest.raises(ValueError, match="unknown scale"):
        Chapter("00", "t", {"SCALE": "huge", "SEEDS": None}).start()
    with pytest.raises(RuntimeError, match="start"):
        Chapter("00", "t", {}).conclude(pd.DataFrame(), [])


def test_conclude_writes_the_parameters_and_keeps_custom_seeds_apart(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CASESTUDIES_RESULTS_DIR", str(tmp_path / "results"))
    namespace = {}
    chapter = Chapter("00-test", "a test", namespace)
    namespace.update(SCALE="cpu", SEEDS="[1000, 1001]", BETA=0.1)
    assert chapter.start().seeds == (1000, 1001) and chapter.custom_seeds
    results = stats.tidy(
        [{"arm": arm, "seed": seed, "m": value} for seed in (1000, 1001) for arm, value in (("a", 0.0), ("b", 1.0))]
    )
    hypotheses = [stats.Hypothesis("H1", "b beats a", "m", "b", "a", "greater", role="headline", sesoi=0.1, why="w")]
    with pytest.raises(RuntimeError, match=r"chapter\.plan"):
        chapter.conclude(results, hypotheses)
    design = tmp_path / "results" / "design"
    design.mkdir(parents=True)
    design_run = stats.tidy(
        [{"arm": a, "seed": s, "m": v + 0.1 * s} for s in (0, 1, 2) for a, v in (("a", 0), ("b", 1))]
    )
    design_run.loc[design_run["arm"] == "b", "value"] += [0.0, 0.2, 0.1]
    (design / "00-test.json").write_text(json.dumps({"results": design_run.to_dict("records")}))
    plans = chapter.plan(hypotheses, design_seeds=[0, 1, 2])
    assert plans["H1"].n_design == 3 and plans["H1"].sd == pytest.approx(0.1)
    printed = capsys.readouterr().out
    assert "design seeds 0-2; this run's seeds 1000-1001: a confirmation run" in printed
    assert "H1 (headline): sd 0.100 over 3 design seeds" in printed
    verdict = chapter.conclude(results, hypotheses)
    record = json.loads((tmp_path / "results" / "custom" / "00-test.json").read_text())
    assert record["design_seeds"] == [0, 1, 2] and record["run"] == "confirmation"
    assert record["plan"]["H1"]["half_width"] == pytest.approx(plans["H1"].half_width)
    assert record["parameters"] == {"SCALE": "cpu", "SEEDS": "[1000, 1001]", "BETA": 0.1}
    assert record["verdict"] == verdict.outcome and math.isclose(record["hypotheses"][0]["estimate"], 1.0)
    assert "Run at scale 'cpu' with seeds [1000, 1001]" in chapter.provenance()
