"""Small helpers for chapter notebooks: show the code that defines an idea, and the provenance line."""

from __future__ import annotations

import inspect
import time

from casestudies.scale import Scale


def show_source(*objects) -> None:
    """Display the source of functions or classes as one highlighted code block (Markdown in Jupyter)."""
    source = "\n\n".join(inspect.getsource(obj).rstrip() for obj in objects)
    try:
        from IPython.display import Markdown, display

        display(Markdown(f"```python\n{source}\n```"))
    except ImportError:  # plain Python: print it
        print(source)


def provenance(scale: Scale, started: float) -> str:
    """One line for the end of a chapter: scale, seeds, wall time, package and library versions."""
    import torch
    import transformers
    import trl

    from casestudies import __version__

    minutes = (time.time() - started) / 60
    return (
        f"Run at scale '{scale.name}' with seeds {list(scale.seeds)} in {minutes:.1f} min wall time; "
        f"casestudies {__version__}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"trl {trl.__version__}, {torch.get_num_threads()} CPU threads, "
        f"{'CUDA: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'}."
    )
