"""dev.py's output settling: what the book stores is what a reader's screen showed."""

import json

import dev


def test_settle_streams_keeps_the_final_state_of_redrawn_lines(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    outputs = [
        {"output_type": "stream", "name": "stderr", "text": ["\rbar:   0%| 0/2"]},
        {"output_type": "stream", "name": "stderr", "text": ["\rbar:  50%| 1/2", "\rbar: 100%| 2/2\n"]},
        {"output_type": "stream", "name": "stdout", "text": ["done\n"]},
        {"output_type": "stream", "name": "stderr", "text": ["\rnext: 100%|\r\n"]},
    ]
    cells = [
        {"cell_type": "code", "source": "", "metadata": {}, "execution_count": 1, "outputs": outputs},
        {"cell_type": "markdown", "source": "text", "metadata": {}},
    ]
    notebook.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    dev.settle_streams(notebook)
    settled = json.loads(notebook.read_text())["cells"]
    assert [(o["name"], o["text"]) for o in settled[0]["outputs"]] == [
        ("stderr", "bar: 100%| 2/2\n"),
        ("stdout", "done\n"),
        ("stderr", "next: 100%|\n"),
    ]
    assert "outputs" not in settled[1]
