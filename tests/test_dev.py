"""dev.py and devtools/: the environment they use, when they install, how they re-execute notebooks and settle their
outputs, the site and browser checks, replications and new chapters."""

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dev
from devtools import browser, colab, environment, notebooks, paths, replicate, scaffold, site


def test_settle_streams_keeps_the_final_state_of_redrawn_lines(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    outputs = [
        {"output_type": "stream", "name": "stderr", "text": ["\rbar:   0%| 0/2"]},
        {"output_type": "stream", "name": "stderr", "text": ["\rbar:  50%| 1/2", "\rbar: 100%| 2/2\n"]},
        {"output_type": "stream", "name": "stdout", "text": ["done\n"]},
        {"output_type": "stream", "name": "stderr", "text": ["\rnext: 100%|\r\n"]},
    ]
    cells = [
        {"cell_type": "code", "source": "", "metadata": {}, "execution_count": 1, "outputs": outputs},
        {"cell_type": "markdown", "source": "text", "metadata": {}},
    ]
    notebook.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    notebooks.settle_streams(notebook)
    settled = json.loads(notebook.read_text())["cells"]
    assert [(o["name"], o["text"]) for o in settled[0]["outputs"]] == [
        ("stderr", "bar: 100%| 2/2\n"),
        ("stdout", "done\n"),
        ("stderr", "next: 100%|\n"),
    ]
    assert "outputs" not in settled[1]


def test_dev_py_and_devtools_load_with_the_standard_library_alone():
    """`new`, `settle`, `colab` and `browse` run before any set-up, from a Python with nothing installed: importing
    dev.py (and with it every module of devtools/) may load nothing else."""
    check = (
        "import sys; before = set(sys.modules); import dev; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names)))"
    )
    loaded = subprocess.run([sys.executable, "-c", check], cwd=paths.ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "['dev', 'devtools']"


# Which environment dev.py uses: an active virtual or conda environment, but never conda's base.


@pytest.fixture
def conda(tmp_path, monkeypatch):
    """A conda installation's layout: the root (base) with `condabin/`, a named environment under `envs/`."""
    for name in ("CONDA_PREFIX", "CONDA_DEFAULT_ENV", "CONDA_EXE", "CONDA_ROOT", "MAMBA_ROOT_PREFIX", "CONDA_SHLVL"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "miniforge3"
    (root / "condabin").mkdir(parents=True)
    (root / "conda-meta").mkdir()
    project = root / "envs" / "objectives-reliability"
    (project / "conda-meta").mkdir(parents=True)
    return root, project


def activate(monkeypatch, prefix, name=None, conda_exe=None):
    """Set what `conda activate` sets, and make `prefix` this interpreter's (as in a conda environment)."""
    monkeypatch.setenv("CONDA_PREFIX", str(prefix))
    if name:
        monkeypatch.setenv("CONDA_DEFAULT_ENV", name)
    if conda_exe:
        monkeypatch.setenv("CONDA_EXE", str(conda_exe))
    monkeypatch.setenv("CONDA_SHLVL", "1")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    monkeypatch.setattr(sys, "base_prefix", str(prefix))


def test_conda_base_is_not_the_projects_environment(conda, monkeypatch):
    root, _ = conda
    activate(monkeypatch, root, name="base", conda_exe=root / "bin" / "conda")
    assert environment.is_conda_base()
    assert not environment.in_environment()
    assert Path(environment.python()).parent.parent == paths.VENV
    note = environment.environment_note()
    assert "base" in note and ".venv" in note and "environment.yml" in note


@pytest.mark.parametrize("clue", ["conda_exe", "condabin", "mamba_root"])
def test_conda_base_is_recognised_without_its_name(conda, monkeypatch, clue):
    root, _ = conda
    activate(monkeypatch, root)  # no CONDA_DEFAULT_ENV
    if clue == "conda_exe":
        monkeypatch.setenv("CONDA_EXE", str(root / "condabin" / "conda"))
        (root / "condabin").rmdir()
    elif clue == "mamba_root":
        monkeypatch.setenv("MAMBA_ROOT_PREFIX", str(root))
        (root / "condabin").rmdir()
    assert environment.is_conda_base()
    assert not environment.in_environment()


def test_a_named_or_prefix_conda_environment_is_used_as_it_is(conda, monkeypatch, tmp_path):
    root, project = conda
    activate(monkeypatch, project, name="objectives-reliability", conda_exe=root / "bin" / "conda")
    assert not environment.is_conda_base()
    assert environment.in_environment()
    assert environment.python() == sys.executable
    assert environment.environment_note() is None
    elsewhere = tmp_path / "work" / "env"
    (elsewhere / "conda-meta").mkdir(parents=True)
    activate(monkeypatch, elsewhere, name=str(elsewhere))
    assert environment.in_environment()


def test_an_active_conda_environment_belonging_to_another_python_is_not_used(conda, monkeypatch, tmp_path):
    root, project = conda
    activate(monkeypatch, project, name="objectives-reliability", conda_exe=root / "bin" / "conda")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "usr"))
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "usr"))
    assert not environment.in_environment()
    assert "is not its own" in environment.environment_note()


def test_a_virtual_environment_is_used_whatever_conda_says(conda, monkeypatch, tmp_path):
    root, _ = conda
    activate(monkeypatch, root, name="base")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))  # a venv made from conda's base Python
    assert environment.in_environment()
    assert environment.environment_note() is None


def test_no_environment_at_all(conda, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "usr"))
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "usr"))
    assert not environment.is_conda_base()
    assert not environment.in_environment()
    assert environment.environment_note() is None


# The install is skipped when nothing it depends on changed.


def test_install_stamp_changes_with_what_the_install_depends_on():
    stamp = dev.install_stamp("[project]\n", '__version__ = "0.1.0"', "/env/bin/python", "/src")
    assert stamp == dev.install_stamp("[project]\n", '__version__ = "0.1.0"', "/env/bin/python", "/src")
    assert stamp != dev.install_stamp("[project]\nx = 1\n", '__version__ = "0.1.0"', "/env/bin/python", "/src")
    assert stamp != dev.install_stamp("[project]\n", '__version__ = "0.2.0"', "/env/bin/python", "/src")
    assert stamp != dev.install_stamp("[project]\n", '__version__ = "0.1.0"', "/other/bin/python", "/src")
    assert stamp != dev.install_stamp("[project]\n", '__version__ = "0.1.0"', "/env/bin/python", "/clone")


def test_needs_install_until_a_matching_stamp_is_written(tmp_path):
    stamp = tmp_path / dev.STAMP_NAME
    expected = dev.current_stamp(sys.executable)
    assert dev.needs_install(stamp, expected)
    stamp.write_text(expected + "\n")
    assert not dev.needs_install(stamp, expected)
    assert dev.needs_install(stamp, dev.install_stamp("changed", "", sys.executable, str(paths.ROOT)))


# Re-executing a notebook: replaced only when every cell ran; smoke runs never replace it.


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A checkout with one executed chapter, and papermill replaced by a stand-in that records its calls."""
    root = tmp_path.resolve() / "repo"
    build = root / "_build"
    for name, value in [
        ("ROOT", root),
        ("SMOKE_DIR", build / "smoke"),
        ("DRY_DIR", build / "dry"),
        ("FAILED_DIR", build / "failed"),
        ("EXECUTING_DIR", build / "executing"),
        ("FINISHED_DIR", build / "finished"),
    ]:
        monkeypatch.setattr(paths, name, value)
    monkeypatch.setattr(notebooks, "python", lambda: "python")
    monkeypatch.setattr(notebooks, "write_glances", lambda: None)  # the stand-in repo has no book to write into
    notebook = root / "notebooks" / "01-chapter.ipynb"
    notebook.parent.mkdir(parents=True)
    cell = {"cell_type": "code", "source": "", "metadata": {}, "execution_count": 1, "outputs": []}
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "committed cpu output\n"}]
    notebook.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    notebook.chmod(0o644)
    calls = []

    def papermill(command, cwd, env, returncode=0, writes=True, reports=None, during=None):
        if during is not None:
            during()
        source, output = Path(command[-2]), Path(command[-1])
        calls.append(
            {
                "cwd": command[command.index("--cwd") + 1],
                "timeout": command[command.index("--execution-timeout") + 1],
                "scale": env.get("CASESTUDIES_SCALE"),
                "out": output,
            }
        )
        if writes:  # as a chapter does: its results file first (the verdict cell), then the executed notebook
            results = Path(env["CASESTUDIES_RESULTS_DIR"])
            results.mkdir(parents=True, exist_ok=True)
            reported = reports or env.get("CASESTUDIES_SCALE")
            (results / f"{source.stem}.json").write_text(json.dumps({"scale": reported}))
            data = json.loads(source.read_text())
            data["cells"][0]["outputs"] = [
                {"output_type": "stream", "name": "stderr", "text": "\rbar: 50%\rbar: 100%\n"},
                {"output_type": "stream", "name": "stdout", "text": f"run at {env.get('CASESTUDIES_SCALE')}\n"},
            ]
            output.write_text(json.dumps(data))
        return subprocess.CompletedProcess(command, returncode)

    def use(returncode=0, writes=True, reports=None, during=None):
        monkeypatch.setattr(
            notebooks.subprocess,
            "run",
            lambda command, cwd, env: papermill(command, cwd, env, returncode, writes, reports, during),
        )

    use()
    return notebook, calls, use


def outputs(notebook):
    return [o["text"] for o in json.loads(notebook.read_text())["cells"][0]["outputs"]]


def test_a_successful_run_replaces_the_notebook_settled(checkout, monkeypatch):
    notebook, calls, _ = checkout
    glances = []
    monkeypatch.setattr(notebooks, "write_glances", lambda: glances.append(True))
    assert notebooks.execute(notebook, "cpu")
    assert glances == [True]  # the pages that open with its verdict are rewritten from the new results file
    assert calls[0]["cwd"] == str(notebook.parent) and calls[0]["scale"] == "cpu"
    assert calls[0]["timeout"] == str(notebooks.CELL_TIMEOUT)  # a cell that hangs fails the run, not the machine
    assert calls[0]["out"] != notebook and calls[0]["out"].suffix == ".ipynb"  # executed into a temporary file
    assert outputs(notebook) == ["bar: 100%\n", "run at cpu\n"]
    assert notebook.stat().st_mode & 0o777 == 0o644
    assert list(paths.EXECUTING_DIR.iterdir()) == []
    assert json.loads((paths.ROOT / "results" / "01-chapter.json").read_text()) == {"scale": "cpu"}


def test_a_smoke_run_leaves_the_books_verdict_pages_alone(checkout, monkeypatch):
    notebook, _, _ = checkout
    monkeypatch.setattr(notebooks, "write_glances", lambda: pytest.fail("a smoke run rewrote the verdict pages"))
    assert notebooks.execute(notebook, "smoke")


def test_without_a_scale_the_notebook_chooses_its_own_default(checkout):
    notebook, calls, _ = checkout
    assert notebooks.execute(notebook, None)
    assert calls[0]["scale"] is None and outputs(notebook)[-1] == "run at None\n"


def test_a_failed_run_leaves_the_notebook_and_keeps_the_failed_copy(checkout, capsys):
    notebook, _, use = checkout
    before = notebook.read_bytes()
    use(returncode=1)
    assert not notebooks.execute(notebook, "cpu")
    assert notebook.read_bytes() == before
    failed = paths.FAILED_DIR / "notebooks" / notebook.name
    assert outputs(failed)[-1] == "run at cpu\n"
    assert "FAILED: notebooks/01-chapter.ipynb" in capsys.readouterr().out
    assert list(paths.EXECUTING_DIR.iterdir()) == []
    assert not (paths.ROOT / "results").exists()  # the results file of a failed run never joins the committed ones


def test_a_run_that_never_started_leaves_nothing_behind(checkout):
    notebook, _, use = checkout
    before = notebook.read_bytes()
    use(returncode=1, writes=False)
    assert not notebooks.execute(notebook, "gpu")
    assert notebook.read_bytes() == before
    assert list(paths.EXECUTING_DIR.iterdir()) == []
    assert not paths.FAILED_DIR.exists()


def test_a_smoke_run_never_replaces_the_committed_notebook(checkout, capsys):
    notebook, calls, _ = checkout
    before = notebook.read_bytes()
    assert notebooks.execute(notebook, "smoke")
    assert notebook.read_bytes() == before
    copy = paths.SMOKE_DIR / "notebooks" / notebook.name
    assert outputs(copy) == ["bar: 100%\n", "run at smoke\n"]
    assert calls[0]["cwd"] == str(notebook.parent)  # relative paths resolve as in the original's folder
    assert "_build/smoke/notebooks/01-chapter.ipynb" in capsys.readouterr().out
    assert (paths.ROOT / "results" / "smoke" / "01-chapter.json").exists()  # where Jupyter's smoke runs write too
    assert not (paths.ROOT / "results" / "01-chapter.json").exists()


def test_a_dry_run_of_the_gpu_path_never_replaces_the_committed_notebook(checkout):
    notebook, _, use = checkout
    before = notebook.read_bytes()
    use(reports="gpu (dry run)")  # what a chapter's results file says with CASESTUDIES_DRY set
    assert notebooks.execute(notebook, "gpu")
    assert notebook.read_bytes() == before and not (paths.ROOT / "results" / "01-chapter.json").exists()
    assert (paths.DRY_DIR / "notebooks" / notebook.name).exists()
    assert (paths.ROOT / "results" / "dry" / "01-chapter.json").exists()


def test_the_book_run_tries_every_chapter_and_skips_the_scorecard_after_a_failure(monkeypatch, tmp_path):
    chapters = [tmp_path / "01-a.ipynb", tmp_path / "02-b.ipynb", tmp_path / "03-c.ipynb"]
    tried = []
    monkeypatch.setattr(notebooks, "chapters", lambda: chapters)
    monkeypatch.setattr(
        notebooks, "execute", lambda notebook, scale: tried.append(notebook.name) or notebook.name != "02-b.ipynb"
    )
    with pytest.raises(SystemExit, match=r"02-b\.ipynb"):
        notebooks.execute_book("cpu")
    assert tried == ["01-a.ipynb", "02-b.ipynb", "03-c.ipynb"]


# The built site: math from the site itself, and a student site without the exercises' solutions.


def test_student_config_only_hides_solutions_and_sources():
    yaml = pytest.importorskip("yaml")
    book = (paths.ROOT / "_config.yml").read_text(encoding="utf-8")
    original, student = yaml.safe_load(book), yaml.safe_load(site.student_config(book))
    config = student["sphinx"].pop("config")
    assert config.pop("hide_solutions") is True and config.pop("html_copy_source") is False
    assert config.pop("html_theme_options") == {"use_download_button": False}
    assert student["sphinx"].pop("recursive_update") is True  # merged into the theme's options, not replacing them
    assert student["repository"].pop("branch") == "student" and original["repository"].pop("branch") == "main"
    assert config == original["sphinx"].pop("config") and student == original
    with pytest.raises(SystemExit, match="repository: branch:"):
        site.student_config("title: x\n")
    with pytest.raises(SystemExit, match="sphinx: config:"):
        site.student_config("title: x\nrepository:\n  url: x\n  branch: main\n")


def test_solutions_are_removed_whatever_their_fence_and_nothing_else_is():
    exercise = "```{exercise}\n:label: ex-1\nDo it.\n```\n"
    solutions = (
        "```{solution} ex-1\n:class: dropdown\n\n    code()\n```\n"
        "````{solution} ex-2\n```python\nx = 1\n```\n````\n"
        ":::{solution} ex-3\nthree\n:::\n"
        "```{solution} ex-4\n```python\ny = 2\n```\n"  # as MyST reads it: the bare fence closes the solution
    )
    assert site.without_solutions("Intro.\n\n" + exercise + "\n" + solutions + "End.") == (
        "Intro.\n\n" + exercise + "\nEnd."
    )
    assert site.without_solutions(solutions.rstrip("\n")) == ""  # a solution that ends the cell


def test_student_notebooks_keep_every_cell_but_the_solutions(tmp_path):
    written = site.write_student_notebooks(tmp_path)
    assert [p.name for p in written] == [p.name for p in paths.chapters()]
    for student, chapter in zip(written, paths.chapters(), strict=True):
        cells, original = (json.loads(p.read_text())["cells"] for p in (student, chapter))
        assert "{solution}" not in student.read_text()
        assert student.read_text().count("{exercise}") == chapter.read_text().count("{exercise}") > 0
        assert len(cells) == len(original)
        for cell, before in zip(cells, original, strict=True):
            if "{solution}" not in "".join(before["source"]):
                assert cell["source"] == before["source"]  # code and prose without a solution: untouched


def one_page_site(root, page: str, solution_source: bool = False):
    """A built site of one page, with MathJax shipped in `_static/`."""
    (root / "_static" / "mathjax").mkdir(parents=True)
    (root / "_static" / "mathjax" / "tex-chtml.js").write_text("// MathJax")
    (root / "page.html").write_text(page)
    if solution_source:
        (root / "_sources").mkdir()
        (root / "_sources" / "page.ipynb").write_text('{"source": "```{solution} ex-1"}')
    return root


LOCAL = '<script defer="defer" src="_static/mathjax/tex-chtml.js"></script>'
MATH = '<span class="math notranslate nohighlight">\\(p\\)</span>'
SOLUTION = '<div class="solution dropdown admonition" id="s-1">'


def test_check_site_accepts_local_math_and_counts_solutions(tmp_path):
    full = one_page_site(tmp_path / "full", LOCAL + MATH + SOLUTION)
    site.check_site(full, solutions=True)
    versioned = LOCAL.replace(".js", ".js?v=20daa33d")  # Sphinx's cache-busting query, added with a _static folder
    site.check_site(one_page_site(tmp_path / "versioned", versioned + MATH + SOLUTION), solutions=True)
    with pytest.raises(SystemExit, match="1 exercise solution"):
        site.check_site(full, solutions=False)
    site.check_site(one_page_site(tmp_path / "student", LOCAL + MATH), solutions=False)
    with pytest.raises(SystemExit, match="no exercise solution"):
        site.check_site(one_page_site(tmp_path / "none", LOCAL + MATH), solutions=True)
    with pytest.raises(SystemExit, match="1 exercise solution"):  # a page's source would give it away
        site.check_site(one_page_site(tmp_path / "sources", LOCAL + MATH, solution_source=True), solutions=False)


def test_check_site_wants_the_student_sites_colab_buttons_on_the_student_branch(tmp_path):
    button = '<a href="https://colab.research.google.com/github/o/r/blob/{}/notebooks/01-a.ipynb">'
    site.check_site(one_page_site(tmp_path / "full", LOCAL + SOLUTION + button.format("main")), solutions=True)
    site.check_site(one_page_site(tmp_path / "student", LOCAL + button.format("student")), solutions=False)
    with pytest.raises(SystemExit, match="opens the main branch"):
        site.check_site(one_page_site(tmp_path / "leak", LOCAL + button.format("main")), solutions=False)
    with pytest.raises(SystemExit, match="opens the student branch"):
        site.check_site(one_page_site(tmp_path / "bare", LOCAL + SOLUTION + button.format("student")), solutions=True)


def test_check_site_rejects_math_from_the_network(tmp_path):
    cdn = '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>'
    with pytest.raises(SystemExit, match="does not load MathJax from the site"):
        site.check_site(one_page_site(tmp_path / "cdn", cdn + MATH + SOLUTION), solutions=True)
    with pytest.raises(SystemExit, match="does not load MathJax from the site"):
        site.check_site(one_page_site(tmp_path / "none", MATH + SOLUTION), solutions=True)
    missing = one_page_site(tmp_path / "missing", LOCAL + MATH + SOLUTION)
    (missing / "_static" / "mathjax" / "tex-chtml.js").unlink()
    with pytest.raises(SystemExit, match=r"tex-chtml\.js is missing"):
        site.check_site(missing, solutions=True)


def test_colab_copy_installs_from_the_checkout_and_changes_nothing_else(tmp_path):
    notebook = json.loads(next((paths.ROOT / "notebooks").glob("06-*.ipynb")).read_text())
    copy = colab.colab_copy(notebook, tmp_path)
    first = next(i for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code")
    assert f'"casestudies @ {tmp_path.resolve().as_uri()}"' in copy["cells"][first]["source"]
    assert "git+" not in copy["cells"][first]["source"]
    assert copy["cells"][first + 1 :] == notebook["cells"][first + 1 :] and notebook != copy
    broken = {"cells": [{"cell_type": "code", "source": "import casestudies", "metadata": {}}]}
    with pytest.raises(SystemExit, match="exactly once"):
        colab.colab_copy(broken, tmp_path)


def test_chapters_are_found_by_number():
    assert paths.chapter("6").name.startswith("06-") and paths.chapter("06") == paths.chapter("6")
    for wrong in ("99", "six", None):
        with pytest.raises(SystemExit, match=r"no chapter|name a chapter"):
            paths.chapter(wrong)


# The browser check: what it flags on a page as rendered, judged on crafted pages (no browser needed).

TYPESET = '<span class="math notranslate nohighlight"><mjx-container>p</mjx-container></span>'
FIGURE = '<img src="../_images/fig.png">'
LAUNCH = '<a href="https://colab.research.google.com/github/o/r/blob/main/notebooks/ch.ipynb">Colab</a>'


def rendered_site(root):
    """A site with one chapter page, its figure and a page it links to."""
    (root / "notebooks").mkdir(parents=True)
    (root / "_images").mkdir()
    (root / "_images" / "fig.png").write_bytes(b"png")
    (root / "book").mkdir()
    (root / "book" / "intro.html").write_text("intro")
    return root / "notebooks" / "ch.html"


def test_page_problems_passes_a_good_chapter_and_names_each_fault(tmp_path):
    page = rendered_site(tmp_path)
    link = '<a href="../book/intro.html#top">intro</a><a href="#mechanism">here</a>'
    good = TYPESET + FIGURE + LAUNCH + link + '<pre>re.sub(r"\\(x\\)", ...)</pre>'  # code may hold "\("
    assert browser.page_problems(good, page, chapter_page=True) == []
    cases = {
        "raw LaTeX": good + "<p>\\(p\\)</p>",
        "none was typeset": FIGURE + LAUNCH + '<span class="math notranslate nohighlight">p</span>',
        "image ../_images/gone.png is missing": good + '<img src="../_images/gone.png">',
        "link to ../book/gone.html is broken": good + '<a href="../book/gone.html">gone</a>',
        "no figure": TYPESET + LAUNCH,
        "no launch button": TYPESET + FIGURE,
    }
    for fault, dom in cases.items():
        problems = browser.page_problems(dom, page, chapter_page=True)
        assert len(problems) == 1 and fault in problems[0], (fault, problems)
    assert browser.page_problems(TYPESET, page, chapter_page=False) == []  # only chapters need a figure and a button


def test_layout_problems_read_the_probes_report_and_debts_match_without_the_measured_detail():
    page = Path("ch.html")
    found = [{"kind": "figure", "what": "a.png", "detail": "shown at 44% of its width"}]
    dom = f'<body><pre id="layout-report">{html.escape(json.dumps(found))}</pre></body>'
    [problem] = browser.layout_problems(dom, page)
    assert problem == "ch.html: figure 'a.png' (shown at 44% of its width)"
    assert browser.without_detail(problem) == "ch.html: figure 'a.png'"
    assert browser.layout_problems('<body><pre id="layout-report">[]</pre></body>', page) == []
    assert browser.layout_problems("<body></body>", page) == ["ch.html: the layout could not be measured"]


def test_the_probe_measures_a_shrunk_figure_and_a_table_wider_than_the_column(tmp_path):
    try:
        found = browser.find_browser()
    except SystemExit:
        pytest.skip("no Chromium here: the layout probe is checked where one is installed (CI installs it)")
    plt = pytest.importorskip("matplotlib.pyplot")
    plt.imsave(tmp_path / "wide.png", np.zeros((10, 2000)))
    plt.imsave(tmp_path / "small.png", np.zeros((10, 300)))
    wide_row = "<tr>" + "".join(f"<td>column{i}</td>" for i in range(80)) + "</tr>"
    body = '<img src="wide.png"><img src="small.png"><table>' + wide_row + "</table><pre>short</pre>"
    page = tmp_path / "page.html"
    style = "<style>img { max-width: 100%; }</style>"  # as the book's theme does
    page.write_text(
        f'<html><body>{style}<article class="bd-article" style="width:700px">{body}</article></body></html>'
    )
    problems = browser.layout_problems(browser.rendered(found, page).stdout, page)
    assert len(problems) == 2 and problems[0] == "page.html: figure 'wide.png' (shown at 35% of its width)"
    assert problems[1].startswith("page.html: table 'column0 column1") and "in a 700 px column" in problems[1]
    assert not (tmp_path / ".layout-page.html").exists()  # the probe's copy is gone


def test_browse_says_how_to_get_a_browser_and_a_site(tmp_path, monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="apt-get install chromium"):
        browser.find_browser()
    with pytest.raises(SystemExit, match=r"python dev\.py book"):
        browser.browse(tmp_path)


@pytest.mark.parametrize("name", ["SMOKE", " Smoke", "smoke "])
def test_a_smoke_run_by_any_spelling_leaves_the_published_chapter_byte_identical(checkout, name):
    notebook, calls, _ = checkout
    before = notebook.read_bytes()
    assert notebooks.execute(notebook, name)
    assert calls[0]["scale"] == "smoke" and notebook.read_bytes() == before
    assert not (paths.ROOT / "results" / "01-chapter.json").exists()


def test_where_a_run_goes_follows_the_scale_it_reports_not_the_name_passed(checkout):
    notebook, _, use = checkout
    before = notebook.read_bytes()
    use(reports="smoke")  # e.g. CASESTUDIES_SCALE set in the notebook's own environment
    assert notebooks.execute(notebook, None)
    assert notebook.read_bytes() == before and (paths.ROOT / "results" / "smoke" / "01-chapter.json").exists()


@pytest.mark.parametrize("blocked", ["results", "_build/smoke"])
def test_an_unwritable_destination_is_reported_before_the_kernel_starts(checkout, capsys, blocked):
    notebook, calls, _ = checkout
    target = paths.ROOT / blocked
    if blocked == "results":
        target.mkdir(parents=True)
        target.chmod(0o500)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("a file where a folder should be")
    try:
        if blocked == "results" and os.access(target, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        assert not notebooks.execute(notebook, "smoke" if "smoke" in blocked else "cpu")
    finally:
        if target.is_dir():
            target.chmod(0o700)
    assert calls == [] and "nothing was run:" in capsys.readouterr().out


def test_a_finished_run_that_cannot_be_moved_is_kept(checkout, capsys):
    notebook, _, use = checkout
    before = notebook.read_bytes()
    results = paths.ROOT / "results"
    use(during=lambda: results.write_text("turned into a file during the run"))
    assert not notebooks.execute(notebook, "cpu")
    assert notebook.read_bytes() == before
    kept = list(paths.FINISHED_DIR.iterdir())
    assert len(kept) == 1 and (kept[0] / notebook.name).stat().st_size > 0
    assert "could not be put in place" in capsys.readouterr().out


def test_ctrl_c_changes_nothing_and_says_so_in_one_line(checkout, capsys):
    notebook, _, use = checkout
    before = notebook.read_bytes()

    def interrupt():
        raise KeyboardInterrupt

    use(during=interrupt)
    assert not notebooks.execute(notebook, "cpu")
    assert notebook.read_bytes() == before and list(paths.EXECUTING_DIR.iterdir()) == []
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("interrupted: notebooks/01-chapter.ipynb")


def test_stale_copies_of_killed_runs_are_cleaned_and_results_dir_is_honoured(checkout, monkeypatch, tmp_path):
    notebook, _, _ = checkout
    stale = paths.EXECUTING_DIR / "999999999"
    stale.mkdir(parents=True)
    (stale / "01-chapter.ipynb").write_text("{}")
    named = tmp_path / "mine"
    monkeypatch.setenv("CASESTUDIES_RESULTS_DIR", str(named))
    before = notebook.read_bytes()
    assert notebooks.execute(notebook, "cpu")
    assert not stale.exists()
    assert (named / "01-chapter.json").exists() and (named / notebook.name).exists()
    assert notebook.read_bytes() == before and not (paths.ROOT / "results").exists()


def test_seed_ranges_and_chapter_names_are_read_or_refused_at_once(capsys):
    assert replicate.seed_range("30-32") == [30, 31, 32] and replicate.seed_range("[5, 7]") == [5, 7]
    for bad in ["-1,-2", "3-1", str(2**64), "1,1"]:
        with pytest.raises(SystemExit):
            replicate.seed_range(bad)
    first = paths.chapters()[0]
    assert paths.chapter(first.stem) == first == paths.chapter(str(first)) == paths.chapter(first.name[:2])
    for bad in [None, "99", "01-nope"]:
        with pytest.raises(SystemExit):
            paths.chapter(bad)


@pytest.mark.slow
def test_replicate_at_smoke_writes_only_under_build_and_prints_every_hypothesis(tmp_path):
    def tracked_state() -> str:
        return subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all", "--", "notebooks", "results"],
            cwd=paths.ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    before = tracked_state()
    run = subprocess.run(
        [sys.executable, str(paths.ROOT / "dev.py"), "replicate", "06", "--scale", "smoke", "--seeds", "30-31"],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert tracked_state() == before
    declared = json.loads((paths.ROOT / "results" / "06-overly-hard-rlvr.json").read_text())["hypotheses"]
    rows = [line for line in run.stdout.splitlines() if re.match(r"H\d+ +(headline|secondary|check) ", line)]
    assert [r.split()[0] for r in rows] == [h["name"] for h in declared]


def test_an_environment_installed_from_another_clone_is_named_before_it_is_re_pointed(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(dev, "python", lambda: sys.executable)
    monkeypatch.setattr(dev, "install_torch", lambda py: None)
    monkeypatch.setattr(dev, "stamp_file", lambda: tmp_path / "stamp")
    monkeypatch.setattr(dev, "installed_from", lambda py: "/elsewhere/clone")
    monkeypatch.setattr(dev, "sh", lambda *args, **kw: None)
    monkeypatch.setattr(dev, "environment_note", lambda: None)
    monkeypatch.setattr(dev, "in_environment", lambda: True)
    dev.setup()
    assert f"installed from /elsewhere/clone; it now points at {paths.ROOT}" in capsys.readouterr().out


def test_new_chapter_is_the_template_with_stubs_where_the_book_lists_chapters(monkeypatch, tmp_path):
    root = tmp_path / "repo"
    for part in ("_toc.yml", "book/intro.md", "book/leaks.yml", "templates/chapter.ipynb"):
        (root / part).parent.mkdir(parents=True, exist_ok=True)
        (root / part).write_text((paths.ROOT / part).read_text())
    (root / "notebooks").mkdir()
    (root / "src" / "casestudies" / "chapters").mkdir(parents=True)
    (root / "tests").mkdir()
    for existing in paths.chapters():
        (root / "notebooks" / existing.name).write_text("{}")
    monkeypatch.setattr(paths, "ROOT", root)
    monkeypatch.setattr(paths, "TEMPLATE", root / "templates" / "chapter.ipynb")
    notebook = scaffold.new_chapter("13", "reward-hacking", "Rewards that can be hacked")
    assert notebook == root / "notebooks" / "13-reward-hacking.ipynb"
    cells = json.loads(notebook.read_text())["cells"]
    text = "".join("".join(c["source"]) for c in cells)
    assert 'Chapter("13-reward-hacking", "Rewards that can be hacked"' in text and "# 13. Rewards" in text
    assert "template" not in text.lower() or "the template's own toy" in text  # only the toy's description
    headings = [
        line
        for c in cells
        if c["cell_type"] == "markdown"
        for line in "".join(c["source"]).splitlines()
        if line.startswith("#")
    ]
    for section in ("The mechanism", "The experiment", "Results", "Verdict", "What this toy cannot show", "Exercises"):
        assert any(section in h for h in headings), section
    assert max(len("".join(c["source"]).splitlines()) for c in cells if c["cell_type"] == "code") <= 50
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells)
    assert 'role="headline", sesoi=' in text and "stats.map_arms(" in text and "chapter.provenance()" in text
    toc = (root / "_toc.yml").read_text()
    assert toc.index("notebooks/12-") < toc.index("notebooks/13-reward-hacking") < toc.index("book/scorecard")
    assert "{doc}`../notebooks/13-reward-hacking`" in (root / "book" / "intro.md").read_text()
    assert "13-reward-hacking:" in (root / "book" / "leaks.yml").read_text()
    assert (root / "src" / "casestudies" / "chapters" / "reward_hacking.py").exists()
    assert "pytest.fail" in (root / "tests" / "test_reward_hacking.py").read_text()  # fails until written
    with pytest.raises(SystemExit, match="exists"):
        scaffold.new_chapter("13", "again", "Again")
    for bad in [("1", "x", "T"), ("14", "Bad Name", "T"), ("14", "ok", " ")]:
        with pytest.raises(SystemExit):
            scaffold.new_chapter(*bad)


def test_comparison_rows_name_hypotheses_only_one_run_declares():
    published = [
        {"name": "H1", "role": "headline", "outcome": "reproduced", "estimate": -0.5},
        {"name": "H5", "role": "check", "outcome": "holds", "estimate": 0.1},
    ]
    replicated = [
        {"name": "H1", "role": "headline", "outcome": "inconclusive", "estimate": -0.25},
        {"name": "H8", "role": "secondary", "outcome": "absent", "estimate": None},
    ]
    rows = [row.split() for row in replicate.comparison_rows(published, replicated)]
    assert rows == [
        ["H1", "headline", "reproduced", "-0.500", "inconclusive", "-0.250"],
        ["H5", "check", "holds", "+0.100", "not", "declared", "undefined"],
        ["H8", "secondary", "not", "declared", "undefined", "absent", "undefined"],
    ]


def test_stored_outputs_show_no_machine_path(tmp_path):
    root = f"{paths.ROOT}/"
    text = (
        f"{root}src/casestudies/x.py:85: RuntimeWarning\n/home/ann/.venv/lib/python3.11/site-packages/tqdm/auto.py:21"
    )
    assert paths.without_machine_paths(text) == "src/casestudies/x.py:85: RuntimeWarning\n…/tqdm/auto.py:21"
    kept = "see https://example.org/home/page and 3/4 of a/b/c"
    assert paths.without_machine_paths(kept) == kept  # URLs and fractions are not machine paths
    notebook = tmp_path / "n.ipynb"
    warning = {"output_type": "stream", "name": "stderr", "text": f"{root}src/a.py:1: Warn\n"}
    cell = {"cell_type": "code", "source": "", "metadata": {}, "execution_count": 1, "outputs": [warning]}
    notebook.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    notebooks.settle_streams(notebook)
    assert json.loads(notebook.read_text())["cells"][0]["outputs"][0]["text"] == "src/a.py:1: Warn\n"


def test_a_built_page_with_a_truncated_table_or_a_machine_path_is_a_problem(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("<p>97 rows × 7 columns</p><pre><span>/work/main/.venv/lib/x.py:3:</span> warning</pre>")
    problems = site.output_problems(page)
    assert len(problems) == 2 and "truncated table (97 rows × 7 columns)" in problems[0]
    assert "/work/main/.venv/lib/x.py:3:" in problems[1]
    page.write_text('<p>12 rows</p><a href="https://example.org/home/x">link</a>')
    assert site.output_problems(page) == []
