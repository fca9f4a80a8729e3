"""The chapter benchmark records what it measured without losing what was recorded before."""

import json

from benchmarks.chapters import record


def test_record_merges_timings_and_keeps_other_chapters_and_scales(tmp_path):
    path = tmp_path / "timings.json"
    record("01-a", "smoke", [30.0, 10.0, 20.0], path=path)
    record("02-b", "smoke", [5.0], path=path)
    record("01-a", "gpu", [100.0, 120.0], verdict="partly", path=path)
    record("01-a", "smoke", [12.0, 14.0, 13.0], path=path)  # a new measurement replaces the old one
    timings = json.loads(path.read_text())
    assert list(timings) == ["01-a", "02-b"]
    assert timings["01-a"]["smoke"]["median_s"] == 13.0 and timings["01-a"]["smoke"]["runs"] == 3
    assert "verdict" not in timings["01-a"]["smoke"]
    assert timings["01-a"]["gpu"]["median_s"] == 110.0 and timings["01-a"]["gpu"]["verdict"] == "partly"
    assert timings["02-b"]["smoke"]["median_s"] == 5.0
