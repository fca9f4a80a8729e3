"""Auto-check helpers for the chapters' coding exercises: a clear message on a wrong answer, not a stack trace."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from casestudies.metrics.agreement import spearman_brown
from casestudies.metrics.decisions import weighted_optimum
from casestudies.tasks.candidate_set import CONFIDENCE_LEVELS


class ExerciseError(AssertionError):
    """An exercise answer that does not meet the specification; the message says what to fix."""


def _call(fn: Callable, *args):
    """Call the learner's function; an exception it raises becomes an `ExerciseError` naming the call."""
    try:
        return fn(*args)
    except Exception as err:  # the learner's code: report, don't crash
        shown = ", ".join(map(str, args))
        raise ExerciseError(
            f"{getattr(fn, '__name__', 'your function')}({shown}) raised {type(err).__name__}: {err}"
        ) from err


def _number(value, call: str) -> float:
    """A learner's return value as a float, or an `ExerciseError` naming the call when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ExerciseError(f"{call} returned {value!r}: return a number") from None


def expected_score(rule: Callable[[float, bool], float], q: float, p: float) -> float:
    """E[rule(q, correct)] when the answer is right with probability p."""
    return p * rule(q, True) + (1 - p) * rule(q, False)


def check_scoring_rule(rule: Callable[[float, bool], float], bounded_by: float = 1.0) -> str:
    """Check that `rule(q, correct)` is a bounded proper scoring rule on the 11-level confidence grid, and that
    with it in 1[correct] + rule(q, correct) an honest attempt never pays less than a deliberate error.

    Returns a short report; raises `ExerciseError` explaining the first property that fails.
    """
    values = {}
    for q in CONFIDENCE_LEVELS:
        for correct in (True, False):
            v = _number(_call(rule, q, correct), f"rule({q}, {correct})")
            if not math.isfinite(v):
                raise ExerciseError(f"rule({q}, {correct}) = {v}: a scoring rule for RL must be finite")
            values[q, correct] = v
    spread = max(values.values()) - min(values.values())
    if spread > bounded_by + 1e-9:
        raise ExerciseError(
            f"the rule spans {spread:.3f} > {bounded_by}: keep it within the correctness reward's range"
        )

    def tabled(q: float, correct: bool) -> float:
        return values[q, correct]

    for p in CONFIDENCE_LEVELS:
        best = max(CONFIDENCE_LEVELS, key=lambda q: expected_score(tabled, q, p))
        if not math.isclose(best, p):
            raise ExerciseError(
                f"not proper: when the answer is right with probability {p}, stating {best} scores better in "
                f"expectation than stating {p}. A proper rule is maximised by the true probability."
            )
    worst_gap = min(p + expected_score(tabled, p, p) - values[0.0, False] for p in CONFIDENCE_LEVELS)
    if worst_gap < -1e-9:
        raise ExerciseError(
            "a deliberately wrong answer stated with confidence 0.0 beats an honest attempt for some p: "
            "the combined reward would teach the model to be predictably wrong"
        )
    return f"ok: proper on the grid, spread {spread:.3f}, honest attempts never lose to deliberate errors"


def check_samples_needed(samples_needed: Callable[[float, float], int]) -> str:
    """Check `samples_needed(single, target)`: the smallest number of samples k whose mean verdict reaches
    reliability `target` by Spearman–Brown, given one sample's reliability `single`; it must raise `ValueError`
    when no k can reach the target (single ≤ 0, or target outside (0, 1)).

    Returns a short report; raises `ExerciseError` explaining the first case that fails.
    """
    for single in (0.03, 0.1, 0.3, 0.5, 0.8, 0.95):
        for target in (0.5, 0.8, 0.9, 0.99):
            k = _call(samples_needed, single, target)
            if not isinstance(k, int | np.integer) or k < 1:
                raise ExerciseError(f"samples_needed({single}, {target}) = {k!r}: return a whole number ≥ 1")
            if spearman_brown(single, k) < target - 1e-9:
                raise ExerciseError(
                    f"samples_needed({single}, {target}) = {k}, but the mean of {k} samples only reaches "
                    f"reliability {spearman_brown(single, k):.4f}"
                )
            if k > 1 and spearman_brown(single, k - 1) >= target - 1e-9:
                raise ExerciseError(
                    f"samples_needed({single}, {target}) = {k}, but {k - 1} samples already reach "
                    f"{spearman_brown(single, k - 1):.4f}: return the smallest k"
                )
    for single, target in ((0.0, 0.9), (-0.1, 0.9), (0.5, 1.0), (0.5, 0.0)):
        try:
            samples_needed(single, target)
        except ValueError:
            continue
        except Exception as err:
            raise ExerciseError(
                f"samples_needed({single}, {target}) should raise ValueError, raised {type(err).__name__}"
            ) from err
        raise ExerciseError(f"samples_needed({single}, {target}) should raise ValueError: no k reaches the target")
    return "ok: smallest k on every case, and impossible targets are refused"


def check_expert_iteration(step: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> str:
    """Check `step(shares, accuracies)`: the format shares after one round of expert iteration (sample from the
    mix, keep the correct samples, refit to them), i.e. the discrete replicator update s_f · a_f / Σ_g s_g a_g.

    Returns a short report; raises `ExerciseError` explaining the first case that fails.
    """
    cases = [
        ([1 / 3, 1 / 3, 1 / 3], [0.9, 0.7, 0.5]),
        ([0.1, 0.6, 0.3], [0.8, 0.4, 0.4]),
        ([0.5, 0.5, 0.0], [0.2, 0.1, 0.9]),
        ([0.2, 0.3, 0.5], [0.6, 0.6, 0.6]),
    ]
    for shares, accuracies in cases:
        s, a = np.array(shares), np.array(accuracies)
        got = np.asarray(_call(step, s.copy(), a.copy()), dtype=float)
        expected = s * a / (s * a).sum()
        if got.shape != s.shape:
            raise ExerciseError(f"step({shares}, {accuracies}) returned shape {got.shape}, expected {s.shape}")
        if not np.isclose(got.sum(), 1.0):
            raise ExerciseError(f"step({shares}, {accuracies}) sums to {got.sum():.4f}: shares must sum to 1")
        if not np.allclose(got, expected, atol=1e-9):
            raise ExerciseError(
                f"step({shares}, {accuracies}) = {np.round(got, 4).tolist()}, "
                f"expected {np.round(expected, 4).tolist()}: "
                "a format's share after filtering is proportional to how often it is sampled *and* right"
            )
    return "ok: the replicator update, including absent formats staying absent and equal accuracies changing nothing"


def check_probability_from_weighted(unweight: Callable[[np.ndarray, float, float], np.ndarray]) -> str:
    """Check `unweight(q, w1, w0)`: the probability p that a class-weighted model's output q stands for, the
    inverse of `weighted_optimum` (q = w1 p / (w1 p + w0 (1 − p))), elementwise on arrays.

    Returns a short report; raises `ExerciseError` explaining the first case that fails.
    """
    p = np.array([0.0, 0.001, 0.05, 0.25, 0.5, 0.75, 0.99, 1.0])
    for w1, w0 in ((30.0, 1.0), (3.64, 0.121), (1.0, 1.0), (0.2, 5.0)):
        q = weighted_optimum(p, w1, w0)
        got = np.asarray(_call(unweight, q.copy(), w1, w0), dtype=float)
        if got.shape != q.shape:
            raise ExerciseError(f"unweight(q, {w1}, {w0}) returned shape {got.shape} for q of shape {q.shape}")
        if not np.all(np.isfinite(got)):
            bad = q[~np.isfinite(got)]
            raise ExerciseError(
                f"unweight(q, {w1}, {w0}) is not finite at q = {bad.tolist()}: handle the ends "
                "(q = 0 stands for p = 0, q = 1 for p = 1), e.g. with a form that never divides by 1 − q alone"
            )
        if not np.allclose(got, p, atol=1e-9):
            worst = int(np.argmax(np.abs(got - p)))
            raise ExerciseError(
                f"unweight(q={q[worst]:.4f}, w1={w1}, w0={w0}) = {got[worst]:.4f}, but that q is what a weighted "
                f"model outputs when p = {p[worst]}: solve q = w1 p / (w1 p + w0 (1 − p)) for p"
            )
    return "ok: recovers p from the weighted model's output for every weighting, including q = 0 and q = 1"


def check_abstention_policy(decide: Callable[[float, float], str]) -> str:
    """Check `decide(p, lam)`: "answer" or "abstain" for a question answered right with probability p when a
    right answer earns 1, `idk` 0 and a wrong answer −lam (chapter 2's ternary reward); either is accepted on
    a tie, where both are worth the same.

    Returns a short report; raises `ExerciseError` explaining the first case that fails.
    """
    cases = [(0.5, 0.4), (0.25, 0.4), (1 / 3, 0.4), (1 / 3, 2 / 3), (1.0, 9.0), (0.5, 9.0), (0.1, 0.0), (0.5, 1.0)]
    cases += [(0.0, 0.0), (0.0, 1.5)]
    for p, lam in cases:
        got = _call(decide, p, lam)
        if got not in ("answer", "abstain"):
            raise ExerciseError(f"decide({p:.3f}, {lam:.3g}) returned {got!r}: return 'answer' or 'abstain'")
        value = p - lam * (1 - p)
        if math.isclose(value, 0.0, abs_tol=1e-12):
            continue  # a tie: both decisions are optimal
        best = "answer" if value > 0 else "abstain"
        if got != best:
            raise ExerciseError(
                f"decide({p:.3f}, {lam:.3g}) = {got!r}, but answering is worth p − λ(1 − p) = {value:+.3f} against 0 "
                f"for idk: the optimal decision is {best!r}"
            )
    return "ok: answers exactly when p > λ / (1 + λ), on trained, held-out and tied cases"


def check_style_forecast(forecast: Callable[[float, float, float], float]) -> str:
    """Check `forecast(warm_after, error_if_warm, error_if_cold)`: the error a model shows once it replies warm
    with probability `warm_after`, if what it does *given* a style is unchanged: a mixture of the two errors.

    Returns a short report; raises `ExerciseError` explaining the first case that fails.
    """
    cases = [(0.3, 0.4, 0.05), (0.75, 0.1, 0.3), (1.0, 0.4, 0.05), (0.0, 0.4, 0.05), (0.5, 0.0, 0.0)]
    for warm, if_warm, if_cold in cases:
        got = _number(_call(forecast, warm, if_warm, if_cold), f"forecast({warm}, {if_warm}, {if_cold})")
        expected = warm * if_warm + (1 - warm) * if_cold
        if not math.isclose(got, expected, abs_tol=1e-9):
            hint = (
                "the warm share weights the error given a warm reply, the rest of the replies are cold"
                if math.isclose(got, (1 - warm) * if_warm + warm * if_cold, abs_tol=1e-9)
                else "the error is the average of the per-style errors, weighted by how often each style is used"
            )
            raise ExerciseError(f"forecast({warm}, {if_warm}, {if_cold}) = {got:.4f}, expected {expected:.4f}: {hint}")
    return "ok: a style-only change moves the error along the line between the two per-style errors"


def check_group_advantages(advantages: Callable[[np.ndarray, bool], np.ndarray]) -> str:
    """Check `advantages(rewards, scale)`: GRPO's advantages for one group, r − mean, divided by the group's
    standard deviation (Bessel-corrected, + 1e-4, as TRL does) when `scale` is true.

    Returns a short report; raises `ExerciseError` explaining the first case that fails.
    """
    from casestudies.training import group_advantages  # imports TRL: only when the check runs

    cases = [[1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0.5, 1.0, 0.0]]
    for rewards in cases:
        for scale in (False, True):
            r = np.array(rewards, dtype=float)
            got = np.asarray(_call(advantages, r.copy(), scale), dtype=float)
            expected = group_advantages(r, scale)
            if got.shape != r.shape or not np.all(np.isfinite(got)):
                raise ExerciseError(
                    f"advantages({rewards}, {scale}) = {got.tolist()}: expected {r.size} finite numbers "
                    "(a group whose rewards are all equal has zero advantages, not NaN)"
                )
            if not np.allclose(got, expected, atol=1e-3):
                hint = (
                    "use the sample standard deviation (ddof=1), as TRL does"
                    if scale and np.allclose(got, (r - r.mean()) / (r.std() + 1e-4), atol=1e-3)
                    else "centre on the group's mean; divide by its standard deviation only when scale is true"
                )
                raise ExerciseError(
                    f"advantages({rewards}, {scale}) = {np.round(got, 3).tolist()}, "
                    f"expected {np.round(expected, 3).tolist()}: {hint}"
                )
    return "ok: centred on the group's mean, scaled by its standard deviation when asked, zero for equal rewards"


def check_restricted(restrict: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> str:
    """Check `restrict(p, allowed)`: the distribution closest to `p` (in KL(q ‖ p)) that gives only allowed
    answers, i.e. `p` zeroed outside `allowed` and renormalised, for one distribution (a 1-D array).

    Returns a short report; raises `ExerciseError` explaining the first case that fails.
    """
    from casestudies.metrics.drift import restricted

    rng = np.random.default_rng(0)
    cases = [(np.array([0.5, 0.3, 0.2]), np.array([True, False, True]))]
    for _ in range(20):
        p = rng.dirichlet(np.ones(10) * 0.5)
        cases.append((p, rng.random(10) < 0.5))
    for p, allowed in cases:
        if not allowed.any():
            continue
        got = np.asarray(_call(restrict, p.copy(), allowed.copy()), dtype=float)
        expected = restricted(p, allowed)[0]
        if got.shape != p.shape or not np.all(np.isfinite(got)):
            raise ExerciseError(
                f"restrict({np.round(p, 3).tolist()}, ...) returned {got.tolist()}: expected "
                f"{p.size} finite probabilities, one per answer"
            )
        if np.allclose(got, expected, atol=1e-6):
            continue
        if (got[~allowed] > 1e-9).any():
            hint = "it still gives probability to answers that are not allowed"
        elif not np.isclose(got.sum(), 1.0):
            hint = f"it sums to {got.sum():.3f}: renormalise, so that it is a distribution"
        elif np.allclose(got, allowed / allowed.sum()):
            hint = "uniform over the allowed answers moves further from p than needed: keep p's proportions"
        else:
            hint = "keep p's proportions among the allowed answers"
        raise ExerciseError(
            f"restrict(p={np.round(p, 3).tolist()}, allowed={allowed.astype(int).tolist()}) = "
            f"{np.round(got, 3).tolist()}, expected {np.round(expected, 3).tolist()}: {hint}"
        )
    return "ok: p restricted to the allowed answers and renormalised, the closest always-right distribution"


def _first_only(completions: list[str], correct: list[str], group_size: int) -> list[float]:
    """The "first finder" judge: 1 for the first completion in its group to give each right answer, else 0."""
    from casestudies.tasks.keyed_digits import parse

    rewards = []
    for start in range(0, len(completions), group_size):
        seen: set[int] = set()
        for i in range(start, start + group_size):
            answer = parse(completions[i])
            new = answer is not None and str(answer) in correct[i] and answer not in seen
            seen |= {answer} if new else set()
            rewards.append(float(new))
    return rewards


def check_novelty_reward(reward: Callable[[list[str], list[str], int], list[float]], variant: str = "share") -> str:
    """Check `reward(completions, correct, group_size)` against a judge for many right answers, in each group of
    `group_size` consecutive completions: `variant="share"`, a right answer given m times earns 1/m each;
    `variant="first"`, the first completion to give each right answer earns 1 and repeats 0. Wrong or malformed
    answers earn 0, and either way a group earns one point per distinct right answer.

    Returns a short report; raises `ExerciseError` explaining the first case that fails.
    """
    from casestudies.tasks.keyed_digits import novelty_reward, parse

    if variant not in ("share", "first"):
        raise ValueError(f'variant must be "share" or "first", got {variant!r}')
    judge = novelty_reward if variant == "share" else _first_only

    cases = [
        ([" 2", " 2", " 4", " 7"], ["02468"] * 4, 4),
        ([" 1", " 1", " 1", " 1"], ["13579"] * 4, 4),
        ([" 0", " =", " 3", " 0", " 5", " 5"], ["0369"] * 3 + ["258"] * 3, 3),
        ([" 6", " 6", " 6", " 6"], ["0369"] * 2 + ["147"] * 2, 2),
        ([" 2", " 4", " 2", " 2"], ["02468"] * 4, 2),
    ]
    for completions, correct, size in cases:
        expected = judge(completions, correct, size)
        got = _call(reward, list(completions), list(correct), size)
        if not isinstance(got, list | tuple | np.ndarray):
            raise ExerciseError(
                f"reward({completions}, ..., group_size={size}) returned {got!r}: return a list with one reward per "
                "completion"
            )
        if len(got) == len(expected) and np.allclose(np.asarray(got, dtype=float), expected):
            continue
        got = np.asarray(got, dtype=float)
        right = np.array(
            [parse(c) is not None and str(parse(c)) in ok for c, ok in zip(completions, correct, strict=True)]
        )
        if got.shape != right.shape:
            hint = f"return one reward per completion ({len(completions)})"
        elif (got[~right] != 0).any():
            hint = "a wrong or malformed answer earns 0, however rare it is in its group"
        elif np.allclose(got, right.astype(float)):
            hint = (
                "every right answer earns 1: divide by how often the group gave that answer"
                if variant == "share"
                else "every right answer earns 1: only the first to give it in its group should"
            )
        elif size < len(completions):
            hint = "count repeats within each group of group_size consecutive completions, not across the batch"
        else:
            hint = (
                "a right answer given m times in its group earns 1/m"
                if variant == "share"
                else "the first completion to give a right answer earns 1, later repeats of it 0"
            )
        raise ExerciseError(
            f"reward({completions}, {correct}, group_size={size}) = {np.round(got, 3).tolist()}, expected "
            f"{np.round(expected, 3).tolist()}: {hint}"
        )
    if variant == "first":
        return "ok: each group earns one point per distinct right answer, all of it to the first to find it"
    return "ok: each group earns one point per distinct right answer, shared among the completions that gave it"


def check_lowest_penalty_downsample(downsample: Callable[[np.ndarray, np.ndarray, int], list[int]]) -> str:
    """Check `downsample(rewards, penalties, keep)`, the released rStar2-Agent variant of Resample-on-Correct: the
    indices of `keep` rollouts, successes (reward > 0) and failures in `training.keep_counts`'s numbers, each
    the ones with the lowest penalty. Returns a short report; raises `ExerciseError` on the first case that fails.
    """
    from casestudies.training.rollouts import keep_counts

    cases = [
        ([1, 1, 1, 1, 0, 0, 0, 0], [0.5, 0.0, 0.25, 0.0, 1.0, 0.0, 0.5, 0.25], 4),
        ([1, 0, 0, 0, 0, 0, 1, 1], [0.0, 0.5, 0.0, 1.5, 0.25, 0.5, 0.5, 0.0], 4),
        ([1, 1, 1, 1, 1, 1, 1, 0], [0.5, 0.5, 0.0, 0.25, 1.0, 0.0, 0.5, 1.0], 4),
        ([0, 0, 0, 0, 0, 0], [0.5, 0.0, 1.0, 0.25, 0.5, 0.0], 3),
        ([1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0], [0.1 * i for i in range(12)], 6),
    ]
    for rewards, penalties, keep in cases:
        r, p = np.asarray(rewards, dtype=float), np.asarray(penalties, dtype=float)
        call = f"downsample(rewards={rewards}, penalties={penalties}, keep={keep})"
        got = _call(downsample, r.copy(), p.copy(), keep)
        try:
            chosen = sorted(int(i) for i in got)
        except (TypeError, ValueError):
            raise ExerciseError(f"{call} returned {got!r}: return a list of indices") from None
        n_pos, n_neg = keep_counts(r, keep)
        if len(set(chosen)) != len(chosen) or len(chosen) != keep or not all(0 <= i < r.size for i in chosen):
            raise ExerciseError(f"{call} = {chosen}: return {keep} different indices into the group")
        kept_pos = [i for i in chosen if r[i] > 0]
        if len(kept_pos) != n_pos:
            raise ExerciseError(
                f"{call} kept {len(kept_pos)} successes and {keep - len(kept_pos)} failures, expected {n_pos} and "
                f"{n_neg}: keep each kind's share of the group (rounded half up), at least one of each when the "
                "group has both"
            )
        for kind, mask in (("successes", r > 0), ("failures", r <= 0)):
            kept = sorted(p[i] for i in chosen if mask[i])
            best = sorted(p[mask])[: len(kept)]
            if not np.allclose(kept, best):
                raise ExerciseError(
                    f"{call} kept {kind} with penalties {kept}, expected the lowest, {best}: sort each kind by "
                    "penalty and keep the first ones"
                )
    return "ok: each kind in its share of the group, the lowest penalties first"


def check_path_verifier(verify: Callable[[tuple[int, ...], int, list[tuple[int, str, int, int]]], bool]) -> str:
    """Check `verify(numbers, target, path)`, the test a careful Countdown solver runs before claiming SOLVED: true
    exactly when every step (a, op, b, c) uses numbers still available, is allowed by the rules (`countdown.apply`)
    and computes c correctly, and the path uses every number and ends on the target. Returns a short report;
    raises `ExerciseError` on the first case that fails, naming what the case is about."""
    cases = [
        ((3, 5, 2), 16, [(3, "+", 5, 8), (8, "*", 2, 16)], True, "a correct path"),
        ((3, 5, 2), 16, [(3, "+", 5, 8), (8, "+", 2, 16)], False, "a step with wrong arithmetic (8 + 2 is not 16)"),
        ((3, 5, 2), 16, [(3, "*", 5, 15), (15, "-", 2, 13)], False, "a legal path that ends on 13, not the target"),
        ((3, 5, 2), 16, [(3, "+", 5, 8), (8, "*", 2, 16), (16, "*", 1, 16)], False, "a third step with a 1 it lacks"),
        ((4, 4, 1), 16, [(4, "*", 4, 16), (16, "*", 1, 16)], True, "a path that uses a repeated number twice"),
        ((4, 2, 1), 16, [(4, "*", 4, 16), (16, "*", 1, 16)], False, "a path that uses the 4 twice"),
        ((7, 2, 3), 5, [(7, "/", 2, 3), (3, "+", 2, 5)], False, "an inexact division (7 / 2)"),
        ((2, 9, 3), 3, [(2, "-", 9, 7), (7, "-", 3, 4)], False, "a subtraction below zero (2 − 9)"),
        ((6, 2, 5), 8, [(6, "+", 2, 8)], False, "a path that leaves the 5 unused"),
        ((6, 3, 5), 10, [(6, "/", 3, 2), (2, "*", 5, 10)], True, "a correct path with an exact division"),
    ]
    for numbers, target, path, expected, about in cases:
        got = _call(verify, numbers, target, [tuple(step) for step in path])
        if not isinstance(got, bool | np.bool_):
            raise ExerciseError(f"verify({numbers}, {target}, {path}) returned {got!r}: return True or False")
        if bool(got) != expected:
            raise ExerciseError(
                f"verify({numbers}, {target}, {path}) = {got}, expected {expected}: the case is {about}"
            )
    return "ok: true exactly for legal, correctly computed paths that use every number and end on the target"


def check_lookahead_carries(carries: Callable[[int, int], list[int]]) -> str:
    """Check `carries(a, b)`: the carry into each column of a + b, left to right (the numbers have the same count of
    digits), as the left-to-right style must write them before it has written the columns they come from. Returns
    a short report; raises `ExerciseError` on the first case that fails, naming what the case is about."""
    from casestudies.tasks.addition import Problem, columns

    cases = [
        (34, 25, "no carries at all"),
        (47, 38, "one carry, from the units"),
        (951, 949, "a carry that ripples through a column whose digits sum to 9"),
        (4999, 5001, "a chain of carries started by the units and passed on by every 9 + 0"),
        (181, 718, "columns summing to 9 with nothing to pass on"),
        (5, 7, "a single column (its carry in is always 0)"),
    ]
    for a, b, about in cases:
        got = _call(carries, a, b)
        expected = [c for *_, c in reversed(columns(Problem(a, b)))]
        try:
            got = [int(c) for c in got]
        except (TypeError, ValueError):
            raise ExerciseError(f"carries({a}, {b}) returned {got!r}: return a list of 0s and 1s") from None
        if got != expected:
            raise ExerciseError(
                f"carries({a}, {b}) = {got}, expected {expected} (left to right, one per column): the case is {about}"
            )
    return "ok: each column's carry, looked ahead through every column to its right"
