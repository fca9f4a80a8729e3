"""`dev.py replicate`: a chapter re-run on a reader's own seeds, each hypothesis' outcome printed beside the
published one."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from devtools import paths
from devtools.notebooks import execute
from devtools.paths import relative


def seed_range(text: str) -> list[int]:
    """Seeds from `30-35`, `30,31,32` or `[30, 31]`, each checked by the package's rule; stop with its message."""
    sys.path.insert(0, str(paths.SRC))
    try:
        from casestudies.scale import parse_seeds, validate_seed

        if re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", text):
            low, high = (validate_seed(p) for p in text.split("-"))
            if high < low:
                raise ValueError(f"a seed range runs upwards, got {text!r}")
            return list(range(low, high + 1))
        seeds = parse_seeds(text)
        if len(set(seeds)) != len(seeds) or not seeds:
            raise ValueError(f"seeds must be distinct and at least one, got {text!r}")
        return seeds
    except ValueError as error:
        sys.exit(str(error))
    finally:
        sys.path.pop(0)


def comparison_rows(published: list[dict], replicated: list[dict]) -> list[str]:
    """One line per hypothesis either run declares (the published ones first): its role, and each run's outcome
    and estimate, "not declared" where a run lacks it."""
    stored, mine = {h["name"]: h for h in published}, {h["name"]: h for h in replicated}
    names = [*stored, *(n for n in mine if n not in stored)]

    def shown(x: dict | None) -> str:
        return "undefined" if x is None or x.get("estimate") is None else f"{x['estimate']:+.3f}"

    rows = []
    for name in names:
        h, r = stored.get(name), mine.get(name)
        role = (h or r)["role"]
        rows.append(
            f"{name:4} {role:10} {(h or {}).get('outcome', 'not declared'):>14} {shown(h):>9}  "
            f"{(r or {}).get('outcome', 'not declared'):>14} {shown(r):>9}"
        )
    return rows


def replicate(notebook: Path, seeds: list[int], scale: str) -> None:
    """Re-run a chapter on `seeds` into `_build/replications/` (never over the published chapter) and print, per
    hypothesis, the published outcome and estimate beside the replication's."""
    published = json.loads((paths.ROOT / "results" / f"{notebook.stem}.json").read_text())
    overlap = sorted(set(seeds) & set(published.get("design_seeds", [])) | set(seeds) & set(published["seeds"]))
    if overlap:
        print(f"note: seeds {overlap} were used by the published or design runs; a replication uses fresh ones")
    out = paths.REPLICATIONS_DIR / f"{notebook.stem}-seeds-{seeds[0]}-{seeds[-1]}"
    if not execute(notebook, scale, seeds=seeds, out=out):
        sys.exit(1)
    written = sorted(out.rglob(f"{notebook.stem}.json"))
    if not written:
        sys.exit(f"the run wrote no results file under {relative(out)}")
    print(
        f"\n{notebook.stem}: published ({published['scale']}, seeds {published['seeds']}) against this replication "
        f"({scale}, seeds {seeds}); results in {relative(written[0])}"
    )
    print(f"{'':4} {'role':10} {'published':>14} {'estimate':>9}  {'replication':>14} {'estimate':>9}")
    for row in comparison_rows(published["hypotheses"], json.loads(written[0].read_text())["hypotheses"]):
        print(row)
    print(f"verdict: published {published['verdict']}, replication {json.loads(written[0].read_text())['verdict']}")
