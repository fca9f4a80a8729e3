"""Chapter 6's learning-rate pilot, on pilot seeds only: which RL_LR the chapter uses.

The rule, fixed before the pilot ran: the largest rate at which the shuffled-reward control leaves under 10% of
solvable problems unanswered (so that H3 compares skips with a model that still answers) and the 100%-hard arm
still reaches half-skipping on hard problems within its 60 steps, on every pilot seed.

    python pilots/06_rl_learning_rate.py            # about three minutes on two cores
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import pandas as pd

from casestudies import get_scale, stats
from casestudies.chapters import overly_hard as ch
from casestudies.tasks.running_sums import honest_tokens, problems

RATES = [1e-4, 2e-4, 5e-4]
PILOT_SEEDS = [1000, 1001]
LEVELS = {"easy": [2, 3], "medium": [4, 5], "hard": [7, 8]}
ARMS = {"RL 100% hard": {"hard": 1.0}, "shuffled reward, 100% hard": {"hard": 1.0, "shuffled": True}}


def setup(scale_name: str) -> ch.Setup:
    """The chapter's set-up at a scale, as its notebook builds it."""
    scale = get_scale(scale_name)
    return ch.Setup(
        levels=LEVELS,
        budget=15,
        room=honest_tokens(8),
        n_eval=scale.pick(smoke=20, cpu=200),
        width=scale.width,
        depth=scale.depth,
        heads=scale.heads,
        pretrain_lengths=[2, 3, 4, 5, 6, 7, 8],
        direct_share=0.1,
        pretrain_steps=scale.pick(smoke=40, cpu=1500),
        pretrain_target=0.95,
        pretrain_lr=1e-3,
        check_every=scale.pick(smoke=20, cpu=100),
        rl_steps=scale.pick(smoke=3, cpu=60),
        rl_lr=RATES[-1],
        prompts_per_step=scale.prompts_per_step,
        generations=scale.generations,
    )


def hard_items(chosen: ch.Setup):
    """RL on hard problems only, drawn as the chapter draws them."""

    def items(seed: int, hard_share: float) -> list[dict]:
        n = chosen.rl_steps * chosen.prompts_per_step
        drawn = problems(n, seed=stats.torch_seed(seed, "rl hard"), lengths=LEVELS["hard"])
        return [{"prompt": drawn[i]["prompt"], "gold": drawn[i]["gold"]} for i in ch.rl_order(seed, n)]

    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="cpu")
    base = setup(parser.parse_args().scale)
    weights = dict(
        zip(PILOT_SEEDS, (w for w, _ in stats.map_seeds(lambda s: ch.pretrain(base, s), PILOT_SEEDS)), strict=True)
    )
    jobs = [(rate, seed) for rate in RATES for seed in PILOT_SEEDS]

    def run(rate: float, seed: int) -> list[dict]:
        chosen = replace(base, rl_lr=rate)
        out = ch.train(chosen, ARMS, hard_items(chosen), seed, list(ARMS), weights[seed], "RL 100% hard")
        onset = ch.first_step_reaching(out["log"], "skipped", 0.5, chosen.rl_steps)
        return [
            {
                "rate": rate,
                "seed": seed,
                "arm": r["arm"],
                "unanswered": r["unanswered"],
                "solvable_accuracy": r["solvable_accuracy"],
                "onset": onset.loc[(r["arm"], seed)],
            }
            for r in out["records"]
        ]

    rows = pd.DataFrame([row for part in stats.map_jobs(run, jobs) for row in part])
    table = rows.pivot_table(index=["rate", "seed"], columns="arm", values=["unanswered", "onset"])
    print(table.round(3).to_string())
    fine = [
        rate
        for rate in RATES
        if (rows.query("rate == @rate and arm == 'shuffled reward, 100% hard'")["unanswered"] < 0.10).all()
        and (rows.query("rate == @rate and arm == 'RL 100% hard'")["onset"] <= base.rl_steps).all()
    ]
    print(f"rates that meet the rule on every pilot seed: {fine}; chosen: {max(fine) if fine else 'none'}")


if __name__ == "__main__":
    main()
