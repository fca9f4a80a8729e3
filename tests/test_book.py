"""The book agrees with itself: the table of contents, the intro's chapter list, the notebooks on disk, the
committed results files and each notebook's printed verdict."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def toc_chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [f.removeprefix("notebooks/") for f in files if f.startswith("notebooks/")]


def printed_verdict(notebook: Path) -> tuple[str, dict[str, tuple[str, str]]] | None:
    """The chapter's verdict word and each hypothesis' (outcome, estimate) as the committed outputs print them."""
    cells = json.loads(notebook.read_text())["cells"]
    text = "".join(
        "".join(out.get("text", "")) for cell in cells for out in cell.get("outputs", []) if out.get("name") == "stdout"
    )
    overall = re.search(r"^VERDICT: ([A-Z ]+?)(?:  \(|$)", text, re.MULTILINE)
    if overall is None:
        return None
    # the first verdict's block only: a chapter may print another one later (without a seed, say)
    block = re.match(r"(?:(?:  |secondary|checks|\().*\n)*", text[overall.end() :].split("\n", 1)[-1]).group(0)
    rows = re.findall(r"^  (?:\[\w+\] )?([A-Z]\d+) +([A-Za-z ]+?)  .*? = ([+-]\d+\.\d{3})", block, re.MULTILINE)
    return overall.group(1).lower(), {name: (outcome.lower(), estimate) for name, outcome, estimate in rows}


def declared_in(notebook: Path) -> dict[str, tuple[str, float | None]]:
    """Each hypothesis the notebook's code declares, with its role and sesoi, read from its source."""
    source = "".join(
        "".join(c["source"]) for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"
    )
    declared = {}
    for call in re.split(r'(?=\bH\("[A-Z]\d+",)', source)[1:]:
        name, role = re.match(r'H\("([A-Z]\d+)"', call).group(1), re.search(r'role="(\w+)"', call).group(1)
        sesoi = re.search(r"sesoi=([0-9.]+)", call.split("\n\n")[0])
        declared[name] = (role, float(sesoi.group(1)) if sesoi else None)
    return declared


def test_every_notebook_is_in_the_table_of_contents_and_the_intro():
    on_disk = [p.stem for p in NOTEBOOKS]
    assert toc_chapters() == on_disk
    intro = (ROOT / "book" / "intro.md").read_text()
    listed = re.findall(r"\{doc\}`\.\./notebooks/([0-9]{2}-[a-z0-9-]+)`", intro)
    assert listed == on_disk


def test_the_scorecards_leak_table_covers_every_chapter_with_hypotheses_it_declared():
    leaks = yaml.safe_load((ROOT / "book" / "leaks.yml").read_text())
    assert list(leaks) == toc_chapters()
    for chapter, row in leaks.items():
        assert {"objective", "dimension", "leak", "fix", "fix_test"} <= set(row), chapter
        assert "headline" not in row, f"{chapter}: the headline is read from the hypotheses' roles, not named here"
        declared = {h["name"] for h in json.loads((ROOT / "results" / f"{chapter}.json").read_text())["hypotheses"]}
        assert row["leak"] in declared and (row["fix_test"] is None or row["fix_test"] in declared), chapter


def test_every_chapter_has_a_results_file_and_no_results_file_is_orphaned():
    results = sorted(p.stem for p in (ROOT / "results").glob("*.json"))
    assert results == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_the_printed_verdict_is_the_committed_results_file(notebook):
    """The committed outputs print the numbers of the committed results file; a confirmation run prints its
    verdict too. A file rescored under the current rule (a design run, until the chapter's confirmation run)
    keeps the printed estimates, and its note says so."""
    record = json.loads((ROOT / "results" / f"{notebook.stem}.json").read_text())
    printed = printed_verdict(notebook)
    assert printed is not None, f"{notebook.name} prints no verdict in its committed outputs"
    overall, rows = printed
    assert record["chapter"] == notebook.stem and record["scale"] in ("cpu", "gpu")  # never a smoke or dry run
    note = record.get("note", "")
    changed = re.findall(r"; ([HQ]\d+(?:, [HQ]\d+)*) (?:restated|added)", note)
    restated = {name for names in changed for name in names.split(", ")}
    assert {name: estimate for name, (_, estimate) in rows.items() if name not in restated} == {
        h["name"]: f"{h['estimate']:+.3f}" for h in record["hypotheses"] if h["name"] not in restated
    }
    if note.startswith("rescored"):
        assert record["run"] == "design"
        return
    assert overall == record["verdict"]
    assert {name: outcome for name, (outcome, _) in rows.items()} == {
        h["name"]: h["outcome"].lower() for h in record["hypotheses"]
    }


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_results_files_follow_the_protocol_and_match_the_notebooks_declarations(notebook):
    """Schema 3: design seeds recorded and disjoint from a confirmation run's seeds, one or two headlines, a sesoi on
    every headline and secondary hypothesis, outcomes that follow from the numbers; the notebook declares the same
    hypotheses with the same roles and sesoi (the design copy too)."""
    from casestudies.results import problems

    for folder in ("results", "results/design"):
        record = json.loads((ROOT / folder / f"{notebook.stem}.json").read_text())
        assert problems(record) == [], f"{folder}/{notebook.stem}.json"
        roles = [h["role"] for h in record["hypotheses"]]
        assert 1 <= roles.count("headline") <= 2
        assert all(h["sesoi"] and h["why"] for h in record["hypotheses"] if h["role"] != "check")
        if folder == "results":
            stored = {h["name"]: (h["role"], h["sesoi"]) for h in record["hypotheses"]}
            declared = declared_in(notebook)  # may also hold hypotheses declared only at another scale
            assert {name: declared.get(name) for name in stored} == stored


@pytest.mark.parametrize("notebook", [*NOTEBOOKS, ROOT / "templates" / "chapter.ipynb"], ids=lambda p: p.stem[:2])
def test_the_colab_install_cell_installs_the_books_pinned_release(notebook):
    """The repository and the pin are named once, in `_config.yml` (`repository.url`, which sets the launch and
    repository buttons too, and `repository.install_ref`, this package version's release tag): each chapter's
    first code cell installs exactly that, so a student's Colab runs the code the book was built with."""
    from casestudies import __version__
    from devtools.colab import INSTALL, install_spec

    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    assert repository["install_ref"] == f"v{__version__}"
    assert install_spec() == f"casestudies @ git+{repository['url']}@v{__version__}"
    cells = json.loads(notebook.read_text())["cells"]
    first = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    installs = INSTALL.findall(first)
    assert installs == [f'"{install_spec()}"'], f"{notebook.name} installs {installs}"
    assert 'if "google.colab" in sys.modules:' in first  # only in Colab: elsewhere the package is installed


def test_the_hosted_workflow_runs_the_local_ci_command_and_publishes_its_site():
    """The code host's workflow cannot run here; it must at least run what CI runs here and publish the site
    that command builds, so that a green CI here and a green workflow there mean the same thing."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert runs == ["bash .ci/run", "cp -r _build/student/_build/html _build/html/student"]  # then only publishing
    assert "python3 dev.py test" in (ROOT / ".ci" / "run").read_text()
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert workflow["jobs"]["publish"]["needs"] == ["test", "student-branch"]
    # the student site's Colab buttons open the student branch, which gets the build's solution-free notebooks
    kept = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert kept["with"]["path"] == "_build/student/notebooks"
    branch = workflow["jobs"]["student-branch"]
    assert branch["needs"] == "test" and branch["permissions"] == {"contents": "write"}
    assert "git push -f" in branch["steps"][-1]["run"] and branch["steps"][-1]["run"].rstrip().endswith(" student")


def test_every_chapter_has_a_measured_smoke_time_for_the_status_page():
    """The status page shows measured times only: each chapter's `smoke` median comes from
    `benchmarks/chapters.py --record`, which a new chapter must run once."""
    timings = json.loads((ROOT / "benchmarks" / "timings.json").read_text())
    assert sorted(timings) == [p.stem for p in NOTEBOOKS]
    for chapter, scales in timings.items():
        smoke = scales["smoke"]
        assert smoke["runs"] >= 1 and smoke["median_s"] > 0 and smoke["cores"] >= 1, chapter
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", smoke["measured"]), chapter


def test_the_book_says_how_it_may_be_used_and_cited():
    """A code licence and a content licence, and a citation file whose version and repository are the book's own."""
    licence = (ROOT / "LICENSE").read_text()
    assert "MIT License" in licence and "CC BY 4.0" in licence
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert {"cff-version", "message", "title", "authors"} <= set(citation)
    init = (ROOT / "src" / "casestudies" / "__init__.py").read_text()
    assert f'__version__ = "{citation["version"]}"' in init
    assert citation["repository-code"] == yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def test_the_generated_glance_pages_are_the_results_files_and_every_chapter_opens_with_its_box():
    """`book/_generated/` holds what the results files say now (rewritten by `dev.py run` and `dev.py book`), each
    chapter includes its box right under its title, and the home page includes the verdict table."""
    from devtools.site import glance_texts

    expected = glance_texts()
    on_disk = {p: p.read_text(encoding="utf-8") for p in (ROOT / "book" / "_generated").glob("*.md")}
    assert on_disk == expected, "book/_generated/ is stale: run `python dev.py book` (or devtools.site.write_glances())"
    for notebook in NOTEBOOKS:
        first = "".join(json.loads(notebook.read_text())["cells"][0]["source"]).split("\n")
        assert first[0].startswith("# ") and first[2] == f"```{{include}} ../book/_generated/{notebook.stem}.md", (
            notebook
        )
    assert "```{include} _generated/verdicts.md" in (ROOT / "book" / "intro.md").read_text()


def test_the_answer_keys_reference_runs_change_one_knob_of_the_published_run_and_are_cited():
    """A knob's reference run (`teaching/reference-runs/NN-KNOB-VALUE.json`) is a results file that follows the
    protocol, at the published run's scale and seeds with only that parameter changed, and the answer key cites
    it: its expected direction and size come from a run, not from a guess."""
    from casestudies.results import problems

    key = (ROOT / "teaching" / "answer-key.md").read_text()
    runs = sorted((ROOT / "teaching" / "reference-runs").glob("*.json"))
    assert runs
    for path in runs:
        chapter, knob, value = re.fullmatch(r"(\d\d)-([A-Z_]+)-(.+)", path.stem).groups()
        record = json.loads(path.read_text())
        published = json.loads(next((ROOT / "results").glob(f"{chapter}-*.json")).read_text())
        assert problems(record) == [], path.name
        changed = {k for k, v in record["parameters"].items() if published["parameters"].get(k) != v}
        assert changed == {knob}, path.name
        assert str(record["parameters"][knob]) == value
        assert (record["scale"], record["seeds"]) == (published["scale"], published["seeds"])
        assert f"reference-runs/{path.name}" in key
