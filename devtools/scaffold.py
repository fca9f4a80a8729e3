"""`dev.py new`: a new chapter from the template, with stubs where the book lists its chapters. Standard library
only: it runs before any set-up."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from devtools import paths
from devtools.paths import chapters, relative


def new_chapter(number: str, short: str, title: str) -> Path:
    """A new chapter from the template: `notebooks/NN-short.ipynb` with the standard's sections, the parameters
    cell, hypotheses with roles and sesoi, `map_arms`, the verdict and provenance; and stubs where the book lists
    its chapters (table of contents, intro, leak table), a module for its measurements and a test file."""
    if not re.fullmatch(r"\d{2}", number or ""):
        sys.exit(f"the chapter number is two digits, e.g. 13; got {number!r}")
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", short or ""):
        sys.exit(f"the short name is lower-case words joined by hyphens, e.g. reward-hacking; got {short!r}")
    if not title or not title.strip():
        sys.exit('give the chapter a title, e.g. "Rewards that can be hacked"')
    taken = [p for p in chapters() if p.name.startswith(f"{number}-")]
    if taken:
        sys.exit(f"chapter {number} exists: {relative(taken[0])}")
    stem, module = f"{number}-{short}", short.replace("-", "_")
    text = paths.TEMPLATE.read_text(encoding="utf-8")
    for old, new in [
        ("00-template-chapter", stem),
        ("Template chapter", title.strip()),
        ("# 0. ", f"# {int(number)}. "),
        ("ex-00-", f"ex-{number}-"),
    ]:
        text = text.replace(old, new)
    notebook = paths.ROOT / "notebooks" / f"{stem}.ipynb"
    notebook.write_text(text, encoding="utf-8")
    toc = paths.ROOT / "_toc.yml"
    lines = toc.read_text(encoding="utf-8").splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if "file: notebooks/" in line)
    lines.insert(last + 1, lines[last].split("file:")[0] + f"file: notebooks/{stem}\n")
    toc.write_text("".join(lines), encoding="utf-8")
    intro = paths.ROOT / "book" / "intro.md"
    entries = intro.read_text(encoding="utf-8")
    last_entry = list(re.finditer(r"^- Chapter \d+, \{doc\}`[^`]+`:.*?(?=\n\n|\n- |\Z)", entries, re.M | re.S))[-1]
    entry = f"\n- Chapter {int(number)}, {{doc}}`../notebooks/{stem}`: TODO, the finding and its verdict in a sentence."
    intro.write_text(entries[: last_entry.end()] + entry + entries[last_entry.end() :], encoding="utf-8")
    leaks = paths.ROOT / "book" / "leaks.yml"
    leaks.write_text(
        leaks.read_text(encoding="utf-8").rstrip("\n")
        + f"\n{stem}:\n  objective: TODO\n  toy: TODO\n  dimension: TODO\n  leak: H1\n  fix: none tested\n"
        "  fix_test: null\n  note: TODO\n",
        encoding="utf-8",
    )
    (paths.ROOT / "src" / "casestudies" / "chapters" / f"{module}.py").write_text(
        f'"""Chapter {int(number)}\'s measurements: what turns its trained models into the numbers it tests."""\n',
        encoding="utf-8",
    )
    (paths.ROOT / "tests" / f"test_{module}.py").write_text(
        f'"""Chapter {int(number)}\'s measurements on hand-worked cases."""\n\nimport pytest\n\n\n'
        "def test_the_chapters_measurements_are_tested():\n"
        f'    pytest.fail("write the tests of casestudies.chapters.{module} on hand-worked cases")\n',
        encoding="utf-8",
    )
    print(
        f"{relative(notebook)} created from {relative(paths.TEMPLATE)}, with stubs in _toc.yml, book/intro.md, "
        "book/leaks.yml, "
        f"src/casestudies/chapters/{module}.py and tests/test_{module}.py; then run it at smoke "
        f"(`python dev.py run {number} --scale smoke`), write its tests, and time it (`benchmarks/chapters.py`)"
    )
    return notebook
