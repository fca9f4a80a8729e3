"""casestudies: the shared, tested machinery behind the Objectives & Reliability case studies."""

import warnings

from casestudies.scale import SCALES, Scale, get_scale

# Libraries import tqdm.auto, which asks for ipywidgets in Jupyter; the book's progress bars are plain text.
warnings.filterwarnings("ignore", message="IProgress not found")

__version__ = "0.1.0"

__all__ = ["SCALES", "Scale", "__version__", "get_scale"]
