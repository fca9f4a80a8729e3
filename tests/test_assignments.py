"""The course assignments: every chapter's code exercise becomes an Otter-Grader assignment, built from the
chapter itself; the reference solution gets full marks, and an unanswered copy gets none, with the chapter's own
check explaining why."""

import json
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devtools import assignments, paths
from devtools.colab import install_spec
from devtools.environment import TORCH_CPU, TORCH_CPU_INDEX

CHAPTERS = paths.chapters()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    return assignments.build_assignments(tmp_path_factory.mktemp("assignments"))


def grade(dist: Path, submission: Path, out: Path) -> tuple[float, float, str]:
    """Score, maximum and graded output of `submission` under the assignment's autograder, run locally."""
    autograder = next((dist / "autograder").glob("*.zip"))
    out.mkdir()
    command = [sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(autograder), "-o", str(out)]
    subprocess.run([*command, str(submission)], check=True, capture_output=True)
    scored = [t for t in json.loads((out / "results.json").read_text())["tests"] if t.get("max_score") is not None]
    return sum(t["score"] for t in scored), sum(t["max_score"] for t in scored), "\n".join(t["output"] for t in scored)


def wrong_answer(student: Path, out: Path) -> Path:
    """The student notebook with the function's body answered by a constant, a submission every check rejects."""
    data = json.loads(student.read_text())
    for cell in data["cells"]:
        if cell["cell_type"] == "code" and "".join(cell["source"]).rstrip().endswith("..."):
            cell["source"] = "".join(cell["source"]).rstrip()[:-3] + "return 0"
    out.write_text(json.dumps(data))
    return out


@pytest.fixture(scope="module")
def grades(built, tmp_path_factory) -> dict[tuple[str, str], tuple[float, float, str]]:
    """Every chapter's reference notebook, unanswered student notebook and wrong answer, graded two at a time."""
    root = tmp_path_factory.mktemp("graded")
    jobs = {
        (stem, kind): next((dist / kind).glob("*.ipynb"))
        for stem, dist in built.items()
        for kind in ("autograder", "student")
    }
    for stem in built:
        wrong = root / "wrong" / stem / jobs[stem, "student"].name
        wrong.parent.mkdir(parents=True)
        jobs[stem, "wrong"] = wrong_answer(jobs[stem, "student"], wrong)
    with ThreadPoolExecutor(2) as pool:
        futures = {
            key: pool.submit(grade, built[key[0]], path, root / f"{key[0]}-{key[1]}") for key, path in jobs.items()
        }
        return {key: future.result() for key, future in futures.items()}


def test_every_chapter_has_a_code_exercise_with_a_check():
    for notebook in CHAPTERS:
        exercise = assignments.code_exercise(notebook)
        assert exercise is not None, notebook.name
        assert exercise["helper"].startswith("check_") and exercise["function"] in exercise["solution"]


def test_the_solution_cell_keeps_the_signature_and_hides_the_body():
    code = "import math\n\ndef f(x):\n    y = x + 1\n    return y"
    assert assignments._with_solution_markers(code) == (
        "import math\n\ndef f(x):\n    # BEGIN SOLUTION\n    y = x + 1\n    return y\n    # END SOLUTION"
    )
    with pytest.raises(ValueError, match="one function"):
        assignments._with_solution_markers("def f():\n    pass\ndef g():\n    pass")


@pytest.mark.slow
@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem[:2])
def test_student_copy_hides_the_solution(built, notebook):
    exercise = assignments.code_exercise(notebook)
    student = json.loads(next((built[notebook.stem] / "student").glob("*.ipynb")).read_text())
    code = "\n".join("".join(cell["source"]) for cell in student["cells"] if cell["cell_type"] == "code")
    assert f"def {exercise['function']}(" in code
    assert exercise["solution"].splitlines()[-1].strip() not in code  # the body's last line is gone
    assert exercise["check"] not in code  # the test is not in the notebook's code (Otter keeps it in the metadata)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem[:2])
def test_reference_gets_full_marks_and_an_unanswered_copy_none_with_the_checks_message(grades, notebook):
    score, most, _ = grades[notebook.stem, "autograder"]
    assert most > 0 and score == most
    for kind in ("student", "wrong"):
        score, most, output = grades[notebook.stem, kind]
        assert score == 0 < most, kind
        assert "casestudies.exercises.ExerciseError" in output, kind  # the chapter's check explains, not a crash


@pytest.mark.slow
@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem[:2])
def test_the_autograder_installs_the_package_and_the_student_can_run_the_public_test(built, notebook):
    """Gradescope builds its image from the zip alone: it must install CPU torch and the pinned package, or every
    submission scores 0; the student notebook imports the check and runs the same (public) test."""
    with zipfile.ZipFile(next((built[notebook.stem] / "autograder").glob("*.zip"))) as archive:
        environment = archive.read("environment.yml").decode()
        tests = [archive.read(n).decode() for n in archive.namelist() if n.startswith("tests/")]
    assert install_spec() in environment and TORCH_CPU in environment and TORCH_CPU_INDEX in environment
    assert len(tests) == 1 and "'hidden': False" in tests[0]
    student = json.loads(next((built[notebook.stem] / "student").glob("*.ipynb")).read_text())
    code = "\n".join("".join(cell["source"]) for cell in student["cells"] if cell["cell_type"] == "code")
    assert f"from casestudies.exercises import {assignments.code_exercise(notebook)['helper']}" in code
    assert "grader = otter.Notebook(" in code and "grader.check(" in code


@pytest.mark.slow
def test_a_class_is_graded_into_one_table(tmp_path, monkeypatch):
    """`dev.py grade`: the reference, an unanswered copy and a wrong answer, each with its score and the check's
    message, in one CSV a teacher can upload."""
    import csv

    monkeypatch.setattr(paths, "ASSIGNMENTS_DIR", tmp_path / "assignments")
    notebook = paths.chapter("02")
    dist = assignments.build_assignments(tmp_path / "assignments", only=[notebook])[notebook.stem]
    submissions = tmp_path / "class"
    submissions.mkdir()
    (submissions / "ada.ipynb").write_text(next((dist / "autograder").glob("*.ipynb")).read_text())
    student = next((dist / "student").glob("*.ipynb"))
    (submissions / "bo.ipynb").write_text(student.read_text())
    wrong_answer(student, submissions / "cy.ipynb")
    table = assignments.grade_class(notebook, submissions)
    rows = list(csv.DictReader(table.open()))
    assert [r["submission"] for r in rows] == ["ada.ipynb", "bo.ipynb", "cy.ipynb"]
    assert float(rows[0]["score"]) == float(rows[0]["out of"]) > 0
    assert float(rows[1]["score"]) == float(rows[2]["score"]) == 0
    assert all("casestudies.exercises.ExerciseError" in r["message"] for r in rows[1:])  # the check says why
