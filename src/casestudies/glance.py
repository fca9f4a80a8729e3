"""The answer first: each chapter's "at a glance" box and the home page's verdict table, written from the results
files so that no verdict or number on those pages is typed by hand."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from casestudies.verdict import HEADLINE

WHERE = {"smoke": "a smoke check (its numbers are noise)", "cpu": "2 CPU cores", "gpu": "one GPU"}


def signed(value: float | None, digits: int = 3) -> str:
    """`value` with its sign (a true minus sign), `digits` decimals; `n/a` when undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{value:+.{digits}f}"
    return text.replace("-", "−") if float(text) != 0 else f"{0:.{digits}f}"


def seed_span(seeds: Sequence[int]) -> str:
    """Seeds as a reader writes them: `20–24` for a run of consecutive seeds, else `3, 7, 9`."""
    ordered = sorted(seeds)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}–{ordered[-1]}"
    return ", ".join(str(s) for s in ordered)


def sentence(text: str) -> str:
    """`text` with a capital first letter and a closing full stop."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def page_title(notebook: str | Path) -> str:
    """A chapter's title as its page shows it (its first heading, without the chapter number): the question the
    chapter now asks, which may be newer than the short title its last run wrote into the results file."""
    first = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"][0]["source"]
    heading = ("".join(first) if isinstance(first, list) else first).split("\n", 1)[0]
    return re.sub(r"^#\s*\d+\.\s*", "", heading).strip()


def headlines(record: dict) -> list[dict]:
    """The hypotheses a results file declares with role `headline`, in declaration order."""
    return [h for h in record["hypotheses"] if h.get("role") == HEADLINE]


def estimate_text(hypothesis: dict) -> str:
    """`H1 (auroc, a − b) +0.345 [+0.231, +0.459], 5 of 5 seeds …`: what is compared, the estimate, its 95%
    interval and how many seeds lie in the claimed direction."""
    interval = f"[{signed(hypothesis['ci_low'])}, {signed(hypothesis['ci_high'])}]"
    compared = f"{hypothesis['metric']}, {hypothesis['arm']} − {hypothesis['baseline']}"
    if hypothesis.get("condition"):
        compared += f", {hypothesis['condition']}"
    return (
        f"{hypothesis['name']} ({compared}) {signed(hypothesis['estimate'])} {interval}, "
        f"{hypothesis['n_agree']} of {hypothesis['n_seeds']} seeds in the claimed direction"
    )


def run_text(record: dict) -> str:
    """Which run the numbers come from, on which seeds, how long it took and where."""
    minutes = record.get("wall_time_s")
    took = f", {minutes / 60:.1f} min on {WHERE.get(record['scale'], record['scale'])}" if minutes else ""
    seeds = seed_span(record["seeds"])
    if record["run"] == "confirmation":
        return f"confirmation run at `{record['scale']}` on seeds {seeds}, none of them used while designing{took}"
    where = f"at `{record['scale']}`"
    return f"**provisional** run on design seeds {seeds} {where}, not yet confirmed on fresh seeds{took}"


def glance(record: dict, toy: str) -> str:
    """The MyST box a chapter opens with: its headline claim(s), the verdict, each headline's estimate with its
    interval and seeds, the run, and one line on what the toy assumes."""
    lines = [":::{admonition} At a glance", ":class: tip", ""]
    for h in headlines(record):
        lines += [f"**The source's claim, as tested here.** {sentence(h['claim'])}", ""]
    lines += [f"**Verdict: {record['verdict'].upper()}.** " + "; ".join(estimate_text(h) for h in headlines(record))]
    lines += ["(a paired difference over seeds, with its Student-t 95% interval).", ""]
    lines += [f"**The run.** The {run_text(record)}.", ""]
    lines += [f"**What the toy assumes.** {sentence(toy)}", ":::", ""]
    return "\n".join(lines)


def not_run() -> str:
    """The box of a chapter with no committed run yet."""
    return ":::{admonition} At a glance\n:class: tip\n\nNo run of this chapter is committed yet.\n:::\n"


def verdict_table(records: Iterable[dict], chapter_links: dict[str, str]) -> str:
    """The home page's table: one row per chapter, linked, with its verdict, headline estimate, interval and
    seeds; a design-seed run is marked provisional."""
    rows = ["| chapter | verdict | headline estimate [95% CI] | seeds |", "|---|---|---|---|"]
    for record in records:
        verdict = record["verdict"] + ("" if record["run"] == "confirmation" else " (provisional)")
        numbers = "; ".join(
            f"{h['name']} {signed(h['estimate'])} [{signed(h['ci_low'])}, {signed(h['ci_high'])}]"
            for h in headlines(record)
        )
        link = chapter_links[record["chapter"]]  # the caller's link to the chapter's page
        rows.append(f"| {link} | {verdict} | {numbers} | {seed_span(record['seeds'])} |")
    return "\n".join(rows) + "\n"
