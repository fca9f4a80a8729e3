"""casestudies: the shared, tested machinery behind the Objectives & Reliability case studies."""

import warnings

from casestudies.scale import SCALES, Scale, get_scale

# The package's version, set here only: pyproject.toml reads it (`[tool.setuptools.dynamic]`).
__version__ = "0.1.0"

# Libraries import tqdm.auto, which asks for ipywidgets in Jupyter; the book's progress bars are plain text.
warnings.filterwarnings("ignore", message="IProgress not found")

__all__ = ["SCALES", "Scale", "__version__", "get_scale"]
