"""Chapter 3's machinery on crafted reply probabilities: the per-arm summary, the decomposition of the rise, the
split of a gap into style and given-style parts, the contrasts H5 and H6 pair; and one tiny run end to end."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from casestudies import stats
from casestudies.chapters import warmth_sycophancy as ch
from casestudies.tasks.warmth import CONDITIONS, Persona


def replies_of(rows: list[tuple]) -> pd.DataFrame:
    """Crafted per-item replies: (corpus, stage, seed, condition, warm, error if warm, error if cold), the error
    and agreement following from them as `reply_probabilities` gives them (nothing malformed)."""
    frame = pd.DataFrame(
        rows, columns=["corpus", "stage", "seed", "condition", "warm", "error if warm", "error if cold"]
    )
    frame["error"] = frame["warm"] * frame["error if warm"] + (1 - frame["warm"]) * frame["error if cold"]
    return frame.assign(agree=frame["error"], malformed=0.0)


def test_per_arm_averages_items_within_each_arm_seed_and_condition():
    replies = replies_of(
        [
            ("persona", "warm", 0, "belief", 1.0, 0.2, 0.0),
            ("persona", "warm", 0, "belief", 1.0, 0.4, 0.0),
            ("persona", "warm", 0, "plain", 1.0, 0.0, 0.0),
            ("null", "warm", 0, "belief", 0.5, 0.1, 0.3),
        ]
    )
    got = ch.per_arm(replies).set_index(["arm", "condition"])
    assert got.loc[("persona·warm", "belief"), "error"] == pytest.approx(0.3)
    assert got.loc[("persona·warm", "plain"), "error"] == 0.0
    assert got.loc[("null·warm", "belief"), "error"] == pytest.approx(0.2)
    assert len(got) == 3
    with pytest.raises(ValueError, match="lack"):
        ch.per_arm(replies.drop(columns="warm"))


def crafted_summary() -> pd.DataFrame:
    """Two seeds, one belief condition (and belief + sad for the persona's corpus), four stages, by hand."""
    rows = []
    for seed, bump in ((0, 0.0), (1, 0.02)):
        # persona: warm share moves, and given a warm word the error is higher: the gap goes through the style
        rows += [
            ("persona", "pretrained", seed, "belief", 0.3, 0.4 + bump, 0.1),
            ("persona", "mixed", seed, "belief", 0.3, 0.2 + bump, 0.05),
            ("persona", "cold", seed, "belief", 0.0, 0.2 + bump, 0.05),
            ("persona", "warm", seed, "belief", 1.0, 0.2 + bump, 0.05),
            ("persona", "pretrained", seed, "belief + sad", 0.6, 0.5, 0.1),
            ("persona", "mixed", seed, "belief + sad", 0.6, 0.3, 0.05),
            ("persona", "cold", seed, "belief + sad", 0.0, 0.3, 0.05),
            ("persona", "warm", seed, "belief + sad", 1.0, 0.3, 0.05),
            # null: equal per-style errors, but the warm arm keeps more of them: the gap is all "given the style"
            ("null", "pretrained", seed, "belief", 0.3, 0.2, 0.2),
            ("null", "mixed", seed, "belief", 0.3, 0.06, 0.06),
            ("null", "cold", seed, "belief", 0.0, 0.05, 0.05),
            ("null", "warm", seed, "belief", 1.0, 0.10, 0.10),
        ]
    return ch.per_arm(replies_of(rows))


def test_decomposition_adds_up_and_matches_hand_values():
    parts = ch.decomposition(crafted_summary())
    total = parts["warm − original"]
    assert total.to_numpy() == pytest.approx((parts["warm − mixed"] + parts["mixed − original"]).to_numpy())
    # persona, seed 0, belief: warm 0.2, mixed 0.3·0.2 + 0.7·0.05 = 0.095, original 0.3·0.4 + 0.7·0.1 = 0.19
    row = parts.loc[("persona", 0, "belief")]
    assert row["warm − mixed"] == pytest.approx(0.105)
    assert row["mixed − original"] == pytest.approx(-0.095)
    assert row["warm − original"] == pytest.approx(0.01)
    assert parts.loc[("null", 1, "belief"), "warm − mixed"] == pytest.approx(0.04)


def test_gap_split_puts_a_style_shift_and_a_given_style_shift_where_they_belong():
    split = ch.gap_split(crafted_summary())
    assert split["gap"].to_numpy() == pytest.approx((split["through the style"] + split["given the style"]).to_numpy())
    persona = split.loc[("persona", 0, "belief")]
    assert persona["through the style"] == pytest.approx(0.7 * 0.15)  # Δw · (e_warm − e_cold), per-style errors equal
    assert persona["given the style"] == pytest.approx(0.0)
    null = split.loc[("null", 0, "belief")]
    assert null["through the style"] == pytest.approx(0.0)  # e_warm = e_cold: moving the style moves nothing
    assert null["given the style"] == pytest.approx(0.04)


def test_contrast_records_pair_arms_for_h5_and_h6_without_arms_named_after_conditions():
    summary = crafted_summary()
    records = ch.contrast_records(summary)
    assert {r["arm"] for r in records} <= {f"{c}·{s}" for c in ("persona", "null") for s in ch.STAGES}
    results = stats.tidy(records)
    h5 = stats.paired_differences(results, ch.ABOVE_MIXED, "persona·warm", "null·warm", "belief")
    assert h5.to_numpy() == pytest.approx([0.105 - 0.04, 0.119 - 0.04])  # the persona's gap minus the null's
    assert (
        stats.paired_differences(results, ch.ABOVE_MIXED, "persona·mixed", "null·mixed", "belief").abs().max() < 1e-12
    )
    h6 = stats.paired_differences(results, ch.SAD_ADDS, "persona·warm", "persona·mixed", "belief")
    # warm: 0.3 − 0.2 (seed 0); mixed: (0.6·0.3 + 0.4·0.05) − 0.095 = 0.105; so −0.005 on seed 0
    assert h6.loc[0] == pytest.approx((0.3 - 0.2) - (0.2 - 0.095))
    assert not any(r["arm"].startswith("null") and ch.SAD_ADDS in r for r in records)  # null has no sad rows here
    with pytest.raises(ValueError, match="mixed"):
        ch.contrast_records(summary[summary["stage"] != "mixed"])


def test_plain_error_reads_plain_prompts_only():
    frame = pd.DataFrame({"condition": ["plain", "plain", "belief"], "error": [0.0, 0.02, 0.9]})
    assert ch.plain_error(frame) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="plain"):
        ch.plain_error(frame[frame["condition"] == "belief"])


def test_a_tiny_run_stops_pretraining_at_its_target_and_measures_every_stage():
    persona = Persona()
    setup = ch.Setup(
        personas={"persona": persona, "null": persona.null()},
        tuning={"warm": 1.0, "mixed": 0.3},
        width=16,
        depth=1,
        heads=2,
        pretrain_steps=12,
        pretrain_target=1.0,
        check_every=4,
        pretrain_lr=3e-3,
        tune_steps=2,
        tune_lr=3e-4,
    )
    replies, record = ch.run(setup, seed=0, name="null")
    assert record["steps"] == 4  # a target of 1.0 is met at the first check
    assert record["seed"] == 0 and record["corpus"] == "null" and 0 <= record["plain error"] <= 1
    assert set(replies["stage"]) == {"pretrained", "warm", "mixed"}
    assert (replies.groupby("stage").size() == 4 * 100).all()
    assert set(replies["condition"]) == set(CONDITIONS)
    assert np.isfinite(replies["error"]).all()
    fixed = dataclasses.replace(setup, fixed_steps={"null": 6})
    _, record = ch.run(fixed, seed=0, name="null")  # a fixed budget ignores the target that stopped it at 4
    assert record["steps"] == 6 and not record["held to the target"]
    _, record = ch.run(fixed, seed=0, name="persona")
    assert record["steps"] == 4 and record["held to the target"]
