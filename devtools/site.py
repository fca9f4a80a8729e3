"""Building the book's site (and the student site, without solutions) from the committed outputs, and checking
what it serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

from devtools import paths
from devtools.environment import python, sh
from devtools.paths import MACHINE_PATH, chapters, relative


def glance_texts() -> dict[Path, str]:
    """What `book/_generated/` should hold, from the committed results files and `book/leaks.yml`: one "at a
    glance" box per chapter (included under its title) and the home page's verdict table. Runs in `.venv`."""
    import yaml

    from casestudies.glance import glance, not_run, page_title, verdict_table

    leaks = yaml.safe_load((paths.ROOT / "book" / "leaks.yml").read_text(encoding="utf-8"))
    files = [paths.ROOT / "results" / f"{p.stem}.json" for p in chapters()]
    records = [json.loads(f.read_text()) for f in files if f.exists()]
    texts = {paths.GLANCE_DIR / f"{f.stem}.md": not_run() for f in files}  # a new chapter, before its first run
    texts |= {paths.GLANCE_DIR / f"{r['chapter']}.md": glance(r, leaks[r["chapter"]]["toy"]) for r in records}
    titles = {r["chapter"]: page_title(paths.ROOT / "notebooks" / f"{r['chapter']}.ipynb") for r in records}
    links = {c: f"{{doc}}`{title} <../notebooks/{c}>`" for c, title in titles.items()}
    texts[paths.GLANCE_DIR / "verdicts.md"] = verdict_table(records, links)
    return texts


def write_glances() -> None:
    """Rewrite `book/_generated/` from the results files, so the verdicts the pages open with are the files'."""
    paths.GLANCE_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in glance_texts().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {relative(path)}")


STUDENT_BRANCH = "student"  # the branch the student site's launch buttons open: solution-free notebooks
SOLUTION = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{solution\}.*?^(?P=fence)[`:]*[ \t]*(?:\n|\Z)", re.DOTALL | re.MULTILINE
)  # a closing fence is the opening one's characters alone on a line (a ```python line inside does not close it)


def without_solutions(markdown: str) -> str:
    """Markdown with every `{solution}` block (a fence of backticks or colons and its matching close) removed."""
    return SOLUTION.sub("", markdown)


def write_student_notebooks(folder: Path) -> list[Path]:
    """Every chapter with its exercises' solutions removed, into `folder/notebooks/`: what the student site's
    launch buttons open (published to the `student` branch)."""
    out = folder / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in chapters():
        data = json.loads(notebook.read_text(encoding="utf-8"))
        for cell in data["cells"]:
            if cell["cell_type"] == "markdown" and "{solution}" in "".join(cell["source"]):
                cell["source"] = without_solutions("".join(cell["source"]))
        if re.search(r"\{solution(-start|-end)?\}", json.dumps(data)):
            raise SystemExit(f"{notebook.name}: a solution is left after removing the `{{solution}}` blocks")
        (out / notebook.name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(out / notebook.name)
    return written


def student_config(config: str) -> str:
    """The book's `_config.yml` text with sphinx-exercise's `hide_solutions` switched on, the pages' sources
    left out of the site, and the launch buttons on the `student` branch, where the notebooks have no solutions."""
    branch = re.compile(r"(\nrepository:\n(?:[ ]+.*\n)*?[ ]+branch: )\S+")
    if not branch.search(config):
        raise SystemExit("_config.yml has no `repository: branch:` for the student site's launch buttons")
    config = branch.sub(rf"\g<1>{STUDENT_BRANCH}", config, count=1)
    anchor = "\nsphinx:\n"
    start = config.find(anchor)
    at = config.find("\n  config:\n", start)
    if start < 0 or at < 0:
        raise SystemExit("_config.yml has no `sphinx: config:` section to switch solutions off in")
    at += len("\n  config:\n")
    # The pages' sources (`_sources/`, which the download button serves) would carry the solutions: they are not
    # copied, and the button goes; `recursive_update` merges that one theme option into the book's own.
    student = "    hide_solutions: true\n    html_copy_source: false\n    html_theme_options:\n"
    student += "      use_download_button: false\n"
    head = config[: start + len(anchor)] + "  recursive_update: true\n" + config[start + len(anchor) : at]
    return head + student + config[at:]


def check_site(html: Path, solutions: bool) -> None:
    """Check a built site: every page that shows math loads MathJax from the site itself (so formulas render
    without a network), the exercises' solutions are there or, in the student site, absent, and its Colab
    buttons open the branch with them or without them."""
    pages = sorted(html.rglob("*.html"))
    if not pages:
        raise SystemExit(f"no pages in {relative(html)}")
    problems = []
    solved = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        mathjax = re.findall(r'<script[^>]*\ssrc="([^"]*mathjax[^"]*)"', text, flags=re.IGNORECASE)
        remote = [src for src in mathjax if "://" in src or src.startswith("//")]
        if remote or (
            'class="math' in text and not any(src.split("?")[0].endswith("mathjax/tex-chtml.js") for src in mathjax)
        ):
            problems.append(f"{relative(page)} does not load MathJax from the site ({remote or 'no script'})")
        solved += text.count('class="solution')
        branches = set(re.findall(r"colab\.research\.google\.com/github/[^\"]*?/blob/([^/\"]+)/", text))
        if any((branch == STUDENT_BRANCH) == solutions for branch in branches):
            problems.append(f"{relative(page)}: its Colab button opens the {', '.join(sorted(branches))} branch")
    solved += sum(
        "{solution}" in source.read_text(encoding="utf-8", errors="replace")
        for source in html.glob("_sources/**/*")
        if source.is_file()
    )
    if not (html / "_static" / "mathjax" / "tex-chtml.js").is_file():
        problems.append(f"{relative(html)}/_static/mathjax/tex-chtml.js is missing")
    if solutions and not solved:
        problems.append("no exercise solution in the site")
    if not solutions and solved:
        problems.append(f"{solved} exercise solution(s) in the student site")
    problems += [problem for page in pages for problem in output_problems(page)]
    if problems:
        raise SystemExit("the site fails its checks:\n  " + "\n  ".join(problems))


def output_problems(page: Path) -> list[str]:
    """What a page's outputs show that a reader should not see: a data frame pandas cut short ("… rows × …"), or
    a path on the machine that built it."""
    text = page.read_text(encoding="utf-8")
    problems = [f"{relative(page)}: a truncated table ({m})" for m in re.findall(r"\d+ rows × \d+ columns", text)]
    found = {m.group(0) for m in MACHINE_PATH.finditer(re.sub(r"<[^>]+>", " ", text))}
    problems += [f"{relative(page)}: a machine path in the page ({p})" for p in sorted(found)[:3]]
    return problems


def build_book(student: bool = False) -> None:
    """Build the site from the committed outputs, warnings as errors, and check it (`check_site`). With
    `student`, the exercises' solutions are left out and the site goes to `_build/student/`."""
    write_glances()
    jupyter_book = str(Path(python()).with_name("jupyter-book"))  # the package has no `python -m` entry point
    if not student:
        sh(jupyter_book, "build", ".", "-W", "--keep-going")
        check_site(paths.BOOK_HTML.parent, solutions=True)
        print(f"\nThe book is at {paths.BOOK_HTML}")
        return
    paths.STUDENT_DIR.mkdir(parents=True, exist_ok=True)
    config = paths.STUDENT_DIR / "_config.yml"
    config.write_text(student_config((paths.ROOT / "_config.yml").read_text(encoding="utf-8")), encoding="utf-8")
    sh(
        jupyter_book,
        "build",
        ".",
        "-W",
        "--keep-going",
        "--config",
        str(config),
        "--path-output",
        str(paths.STUDENT_DIR),
    )
    html = paths.STUDENT_DIR / "_build" / "html"
    check_site(html, solutions=False)
    write_student_notebooks(paths.STUDENT_DIR)
    print(
        f"\nThe student book (no solutions) is at {html / 'index.html'}; its launch buttons open the "
        f"`{STUDENT_BRANCH}` branch, where CI publishes {relative(paths.STUDENT_DIR / 'notebooks')}"
    )
