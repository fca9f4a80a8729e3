"""The Python environment everything runs in (an active virtual or conda environment, else `.venv`), and running
commands with it. Standard library only: `dev.py` uses it before any set-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from devtools import paths

TORCH_CPU = "torch==2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def same_path(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same place (resolved, case-folded where the file system is)."""
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def is_conda_base() -> bool:
    """Whether the active conda environment is conda's own `base` (the installation's root), not a project's.

    The rule: `CONDA_DEFAULT_ENV` is "base"; or `CONDA_PREFIX` is the installation's root, as named by
    `CONDA_ROOT`, `MAMBA_ROOT_PREFIX` or the folder above the one holding `CONDA_EXE` (`<root>/bin/conda`,
    `<root>/condabin/conda`); or `CONDA_PREFIX` holds `condabin/`, which only the root installation has.
    Named environments live in `<root>/envs/<name>` and prefix environments anywhere else: neither matches.
    """
    environ = os.environ
    prefix = environ.get("CONDA_PREFIX")
    if not prefix:
        return False
    if environ.get("CONDA_DEFAULT_ENV") == "base":
        return True
    roots = [environ.get("CONDA_ROOT"), environ.get("MAMBA_ROOT_PREFIX")]
    if environ.get("CONDA_EXE"):
        roots.append(str(Path(environ["CONDA_EXE"]).parent.parent))
    if any(root and same_path(root, prefix) for root in roots):
        return True
    return (Path(prefix) / "condabin").is_dir()


def in_environment() -> bool:
    """True when this interpreter belongs to an environment made for the project: use it as it is.

    That is a virtual environment (`sys.prefix` differs from `sys.base_prefix`), or the active conda
    environment (`CONDA_PREFIX`) when it is this interpreter's and is not conda's `base` (`is_conda_base`).
    Anything else, conda's `base` included, gets `.venv`.
    """
    prefix = sys.prefix
    if prefix != sys.base_prefix:
        return True
    conda = os.environ.get("CONDA_PREFIX")
    return bool(conda) and same_path(conda, prefix) and not is_conda_base()


def environment_note() -> str | None:
    """One line saying why an active conda environment is not used, or None when there is nothing to say."""
    conda = os.environ.get("CONDA_PREFIX")
    if not conda or in_environment():
        return None
    if is_conda_base():
        which = "conda's base environment is active but is not the project's"
    else:
        which = f"conda environment {conda} is active but this Python ({sys.executable}) is not its own"
    return (
        f"{which}: using {paths.VENV.name} instead (for a dedicated conda environment: "
        "`conda env create -f environment.yml`, activate it, run again)"
    )


def python() -> str:
    """The interpreter that runs everything: the active environment's, else `.venv`'s."""
    if in_environment():
        return sys.executable
    return str(paths.VENV / ("Scripts" if os.name == "nt" else "bin") / "python")


def sh(*args: str, env: dict | None = None, cwd: Path = paths.ROOT) -> None:
    """Run a command, echoing it; stop with its exit code if it fails."""
    print("+", " ".join(args), flush=True)
    result = subprocess.run(args, cwd=cwd, env={**os.environ, **(env or {})})
    if result.returncode:
        sys.exit(result.returncode)


def install_torch(py: str) -> None:
    """Put a CPU build of torch into the environment of `py` unless one is there: a CPU wheel on local disk
    (found through pip's find-links) first, its dependencies from the usual index; else the PyTorch CPU index.
    Never PyPI's default Linux wheel, a multi-GB CUDA build."""
    if subprocess.run([py, "-c", "import torch"], capture_output=True).returncode == 0:
        return
    local = [py, "-m", "pip", "install", "-q", "--no-index", "--no-deps", TORCH_CPU]
    if subprocess.run(local, cwd=paths.ROOT, capture_output=True).returncode == 0:
        sh(py, "-m", "pip", "install", "-q", TORCH_CPU)
    else:
        sh(py, "-m", "pip", "install", "-q", TORCH_CPU, "--index-url", TORCH_CPU_INDEX)
