"""Running a chapter's seeds and jobs in parallel worker processes, and the random streams each seed draws from.

Seeds are the unit of replication: every job builds its models and data from its seed alone, so a run in
workers gives exactly the numbers of a serial run with one torch thread. Workers are started fresh (loky, never
forked from a process whose torch threads are running), one torch thread each, and are stopped with the run:
on a failure, on Ctrl-C and when the interpreter exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from typing import TypeVar

import numpy as np
from tqdm import tqdm

T = TypeVar("T")
W = TypeVar("W")


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def usable_cores() -> int:
    """The CPU cores this process may use: CPU affinity and container (cgroup) quotas respected."""
    from joblib import cpu_count

    return max(1, cpu_count())


def workers_for(n_jobs: int) -> int:
    """How many worker processes run `n_jobs` jobs: one per usable core, never more than the jobs (one worker means
    the jobs run in this process)."""
    return max(1, min(usable_cores(), n_jobs))


def stream(seed: int, name: str) -> np.random.Generator:
    """The random generator of one named stream of a seed (the warm-up's data, the RL prompts, the evaluation
    set...): independent of every other name and seed, and the same wherever it is drawn, unlike hand-made
    offsets such as `seed + 1`, which collide with the next seed's stream."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(name.encode()),)))


def torch_seed(seed: int, name: str) -> int:
    """A torch seed for one named stream of a seed (for `torch.manual_seed`), drawn from `stream(seed, name)`."""
    return int(stream(seed, name).integers(2**31 - 1))


def map_seeds(fn: Callable[[int], T], seeds: Sequence[int], parallel: bool = True) -> list[T]:
    """`[fn(seed) for seed in seeds]`, in worker processes when `parallel` and more than one core is usable, with a
    progress bar over finished seeds.

    The function and the globals it uses are copied to the workers for every seed, so it should build its models
    and data itself rather than read large ones from the notebook. Per-step progress bars are hidden in workers.
    A failing seed raises its own exception, with a note naming the seed (and the worker's traceback as its
    cause); the other seeds are cancelled and the workers stopped.
    """
    return _map(fn, [(int(s),) for s in seeds], parallel, "seed", "map_seeds")


def map_jobs(fn: Callable[..., T], jobs: Sequence[tuple], parallel: bool = True) -> list[T]:
    """`[fn(*job) for job in jobs]`, run as `map_seeds` runs seeds (same workers, threads and error notes).

    For a run whose seeds split into independent jobs of unequal cost (a seed and an arm, say): five seeds on two
    workers leave one idle for the last seed, while ten jobs, the longest submitted first, keep both busy.
    """
    return _map(fn, [tuple(job) for job in jobs], parallel, "job", "map_jobs")


def map_arms(
    warm_up: Callable[[int], W],
    train_arm: Callable[[W, str, int], T],
    seeds: Sequence[int],
    arms: Sequence[str],
    parallel: bool = True,
) -> dict[tuple[str, int], T]:
    """The common shape of a chapter: `warm_up(seed)` once per seed, then `train_arm(warm, arm, seed)` for every arm
    from that seed's warm-up (its weights as a `state_dict`, say), all in parallel workers with a progress bar over
    jobs. Returns `{(arm, seed): result}`; a chapter that reports the warm-up itself gives it an arm that trains
    nothing."""
    seeds = [int(s) for s in seeds]
    arms = list(arms)
    if len(set(arms)) != len(arms):
        raise ValueError(f"arm names must differ, got {arms}")
    warm = dict(zip(seeds, map_seeds(warm_up, seeds, parallel), strict=True))
    jobs = [(warm[seed], arm, seed) for seed in seeds for arm in arms]
    done = map_jobs(train_arm, jobs, parallel)
    return {(arm, seed): result for (_, arm, seed), result in zip(jobs, done, strict=True)}


def _label(job: tuple) -> str:
    """A job as progress bars and error notes name it: its plain values (numbers, text, tuples of them), with
    anything else (model weights, say) shown by its type, so a label stays one short line."""

    def plain(x) -> bool:
        return isinstance(x, str | int | float) or (isinstance(x, tuple) and all(map(plain, x)))

    return "(" + ", ".join(repr(x) if plain(x) else type(x).__name__ for x in job) + ")"


def configured_backend() -> str | None:
    """The joblib backend a reader configured (`joblib.parallel_config(backend="dask")`, say), or None for the
    default, under which jobs run in this machine's loky workers."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    name = type(backend).__name__
    return None if name in ("LokyBackend", "SequentialBackend") else name


def _one_thread(fn: Callable[..., T], *args) -> T:
    """`fn(*args)` with one torch thread and no per-step progress bars, as in the book's own workers."""
    import torch

    os.environ["TQDM_DISABLE"] = "1"
    torch.set_num_threads(1)
    return fn(*args)


def _map_joblib(fn: Callable[..., T], items: list[tuple], kind: str, caller: str, name) -> list[T]:
    """The jobs under the reader's joblib backend (a Dask or Ray cluster, say): the same function, one torch
    thread per job, results in the jobs' order, a progress bar over finished jobs."""
    from joblib import Parallel, delayed

    results: list[T] = []
    with tqdm(total=len(items), desc=f"{kind}s ({configured_backend()})", mininterval=1.0, file=sys.stdout) as bar:
        for i, result in enumerate(
            Parallel(n_jobs=-1, return_as="generator")(delayed(_one_thread)(fn, *item) for item in items)
        ):
            results.append(result)
            bar.set_postfix_str(f"{name(items[i])} done", refresh=False)
            bar.update(1)
    return results


_EXECUTORS: list = []


def _stop(executor) -> None:
    """Stop `executor`'s workers now: running jobs are killed, not left computing in the background."""
    if executor in _EXECUTORS:
        _EXECUTORS.remove(executor)
    pids = list(getattr(executor, "_processes", {}))
    executor.shutdown(wait=False, kill_workers=True)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@atexit.register
def _stop_all() -> None:
    for executor in list(_EXECUTORS):
        _stop(executor)


def _map(fn: Callable[..., T], items: list[tuple], parallel: bool, kind: str, caller: str) -> list[T]:
    def name(item: tuple) -> str:
        return f"{kind} {item[0] if kind == 'seed' else _label(item)}"

    started = time.time()
    if parallel and configured_backend() is not None:
        return _map_joblib(fn, items, kind, caller, name)
    workers = workers_for(len(items)) if parallel else 1
    if workers == 1:
        serial = []
        for item in items:
            try:
                serial.append(fn(*item))
            except Exception as error:
                error.add_note(f"raised by {name(item)} ({caller}, in this process)")
                raise
        return serial
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(
        max_workers=workers, initializer=_init_worker, env={"TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    )
    if executor not in _EXECUTORS:
        _EXECUTORS.append(executor)
    futures: dict = {}
    results: dict[int, T] = {}
    item = None
    try:  # submitting inside: a Ctrl-C that lands while jobs are still being submitted stops the workers too
        for i, submitted in enumerate(items):
            futures[executor.submit(fn, *submitted)] = i
        with tqdm(total=len(items), desc=f"{kind}s ({workers} workers)", mininterval=1.0, file=sys.stdout) as bar:
            for future in as_completed(futures):
                item = items[futures[future]]
                results[futures[future]] = future.result()
                bar.set_postfix_str(f"{name(item)} done at {time.time() - started:.0f} s", refresh=False)
                bar.update(1)
    except KeyboardInterrupt:
        for pending in futures:
            pending.cancel()
        _stop(executor)
        raise KeyboardInterrupt(
            f"interrupted after {len(results)} of {len(items)} {kind}s: the workers were stopped and nothing "
            "was written"
        ) from None
    except BaseException as error:  # a failed job: stop the rest rather than leave them running
        for pending in futures:
            pending.cancel()
        _stop(executor)
        if isinstance(error, Exception) and item is not None:
            error.add_note(f"raised by {name(item)} ({caller}, in a worker process; its traceback is the cause)")
        raise
    return [results[i] for i in range(len(items))]
