"""The tidy results every chapter builds: one row per (arm, seed, condition, metric), and its per-arm summary."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pandas as pd

ID_COLUMNS = ("arm", "seed", "condition")


def tidy(rows: Iterable[dict]) -> pd.DataFrame:
    """Turn records ({arm, seed, [condition], metric1: value, ...}) into the tidy frame
    (arm, seed, condition, metric, value); a record without `condition` has condition "".

    Records may differ in their metrics: a metric a record lacks makes no row (a NaN it holds does).
    """
    long = []
    for record in rows:
        missing = [c for c in ("arm", "seed") if c not in record]
        if missing:
            raise ValueError(f"every record needs 'arm' and 'seed'; missing {missing} in {record}")
        condition = record.get("condition")
        condition = "" if condition is None or (isinstance(condition, float) and math.isnan(condition)) else condition
        ids = {"arm": str(record["arm"]), "seed": int(record["seed"]), "condition": str(condition)}
        long.extend({**ids, "metric": k, "value": float(v)} for k, v in record.items() if k not in ID_COLUMNS)
    return pd.DataFrame(long, columns=[*ID_COLUMNS, "metric", "value"])


def check_unique(results: pd.DataFrame) -> None:
    """Raise if one (arm, seed, condition, metric) has more than one value: a forgotten condition would
    otherwise be averaged away silently."""
    missing = [c for c in (*ID_COLUMNS, "metric", "value") if c not in results]
    if missing:
        raise ValueError(f"the results lack the column(s) {missing}: build them with stats.tidy")
    duplicated = results[results.duplicated([*ID_COLUMNS, "metric"], keep=False)]
    if len(duplicated):
        raise ValueError(
            f"{len(duplicated)} rows share an (arm, seed, condition, metric); give each measurement its own "
            f"condition. First of them:\n{duplicated.head(6).to_string(index=False)}"
        )


def summary_table(
    results: pd.DataFrame,
    metrics: Sequence[str],
    arms: Sequence[str] | None = None,
    digits: int = 3,
    condition: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-arm mean over seeds of each metric (a numeric frame) and the same as "mean ± sd" text for display,
    rows in the order of `arms` (default: as they first appear), within one `condition`.

    In the text an undefined mean is blank and a mean without a spread (one seed, or a reference row measured
    once) is shown alone.
    """
    check_unique(results)
    results = results[results["condition"] == condition]
    missing = sorted(set(metrics) - set(results["metric"]))
    if missing:
        raise ValueError(f"no metric(s) {missing} in the results for condition {condition!r}")
    order = list(arms) if arms is not None else list(dict.fromkeys(results["arm"]))
    unknown = [a for a in order if a not in set(results["arm"])]
    if unknown:
        raise ValueError(f"no arm(s) {unknown} in the results for condition {condition!r}")
    agg = results[results["metric"].isin(metrics)].groupby(["arm", "metric"])["value"].agg(["mean", "std"])
    means = agg["mean"].unstack("metric").reindex(index=order, columns=list(metrics))
    spread = agg["std"].unstack("metric").reindex(index=order, columns=list(metrics))

    def shown(v: float) -> str:
        return "" if math.isnan(v) else f"{round(v, digits) + 0.0:.{digits}f}"  # + 0.0: never "-0.000"

    text = means.map(shown).where(spread.isna() | means.isna(), means.map(shown) + " ± " + spread.map(shown))
    return means, text


CELL_PADDING = 2  # characters a displayed table adds around each cell's text
TABLE_WIDTH = 90  # characters of the book's text column at its results tables' type size (`_static/layout.css`)


def column_groups(table: pd.DataFrame, width: int = TABLE_WIDTH) -> list[pd.DataFrame]:
    """`table` cut into consecutive groups of columns, each with the row labels and at most `width` characters
    wide as displayed, so a wide results table reads top to bottom instead of scrolling sideways.

    A cell counts its whole text (a "mean ± sd" stays on one line); a header only its longest word, since
    headers wrap at spaces. A column wider than `width` alone gets a group of its own.
    """
    if width < 1:
        raise ValueError(f"width must be positive, got {width}")

    def longest(values) -> int:
        return max((len(str(v)) for v in values), default=0)

    def header(label) -> int:
        parts = label if isinstance(label, tuple) else (label,)
        return max((len(word) for part in parts for word in str(part).split()), default=0)

    names = [str(n or "") for n in table.index.names]
    labels = sum(
        max(longest(table.index.get_level_values(i)), len(name)) + CELL_PADDING for i, name in enumerate(names)
    )
    labels = max(labels, len(str(table.columns.name or "")) + CELL_PADDING)
    groups: list[list[int]] = []
    used = width  # forces a first group
    for position, column in enumerate(table.columns):
        need = max(longest(table.iloc[:, position]), header(column)) + CELL_PADDING
        if used + need > width:
            groups.append([])
            used = labels
        groups[-1].append(position)
        used += need
    return [table.iloc[:, group] for group in groups] or [table]
