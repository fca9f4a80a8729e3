"""`dev.py colab`: a chapter run the way Colab starts it, and the pinned install its first cell (and every
autograder) uses. Standard library only at import: it runs in its own fresh environment, never `.venv`."""

from __future__ import annotations

import json
import os
import re
import shutil
import venv
from pathlib import Path

from devtools import paths
from devtools.environment import install_torch, sh
from devtools.notebooks import CELL_TIMEOUT
from devtools.paths import relative

INSTALL = re.compile(r'"casestudies @ git\+[^"]+"')


def install_spec() -> str:
    """The pip requirement every Colab cell and autograder installs the package with: the book's repository at
    `repository.install_ref` of `_config.yml`, the one place the pin is set (read without YAML: stdlib only)."""
    config = (paths.ROOT / "_config.yml").read_text(encoding="utf-8")
    url = re.search(r"^  url: (\S+)$", config, re.M).group(1)
    ref = re.search(r"^  install_ref: (\S+)$", config, re.M).group(1)
    return f"casestudies @ git+{url}@{ref}"


def colab_copy(notebook: dict, source: Path) -> dict:
    """A copy of a chapter whose first cell installs the package from `source` (a local checkout) instead of
    the book's repository; nothing else changes."""
    copy = json.loads(json.dumps(notebook))
    first = next(c for c in copy["cells"] if c["cell_type"] == "code")
    text = "".join(first["source"])
    if len(INSTALL.findall(text)) != 1:
        raise SystemExit("the chapter's first code cell does not install `casestudies @ git+...` exactly once")
    first["source"] = INSTALL.sub(f'"casestudies @ {source.resolve().as_uri()}"', text)
    return copy


def colab_check(notebook: Path) -> None:
    """Run one chapter at `smoke` scale the way Colab starts it: a fresh environment holding only torch and
    Jupyter, `google.colab` importable, and the chapter's own first cell installing the package (from this
    checkout rather than the repository, so what is tested is what is here); each cell gets `CELL_TIMEOUT`
    seconds, as in `execute`."""
    env_dir, stub = paths.COLAB_DIR / "venv", paths.COLAB_DIR / "stub"
    shutil.rmtree(paths.COLAB_DIR, ignore_errors=True)
    print(f"creating a fresh environment in {relative(env_dir)}", flush=True)
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    install_torch(py)
    sh(py, "-m", "pip", "install", "-q", "ipykernel", "papermill")
    (stub / "google" / "colab").mkdir(parents=True)
    (stub / "google" / "__init__.py").write_text("")
    (stub / "google" / "colab" / "__init__.py").write_text('"""Stands in for Colab\'s module."""\n')
    (stub / "sitecustomize.py").write_text("import google.colab  # imported at start-up, as in a Colab kernel\n")
    copy = paths.COLAB_DIR / notebook.name
    copy.write_text(
        json.dumps(colab_copy(json.loads(notebook.read_text(encoding="utf-8")), paths.ROOT)), encoding="utf-8"
    )
    env = {
        "PYTHONPATH": str(stub),
        "CASESTUDIES_SCALE": "smoke",
        "CASESTUDIES_RESULTS_DIR": str(paths.COLAB_DIR / "results"),
    }
    sh(
        py,
        "-m",
        "papermill",
        "--cwd",
        str(notebook.parent),
        "--execution-timeout",
        str(CELL_TIMEOUT),
        str(copy),
        str(copy),
        env=env,
    )
    print(f"{notebook.name} ran from a fresh environment through its own install cell: {relative(copy)}", flush=True)
