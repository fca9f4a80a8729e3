"""The course assignments: every chapter's code exercise becomes an Otter-Grader assignment, built from the
chapter itself; the reference solution gets full marks, and an unanswered copy gets none, with the chapter's own
check explaining why."""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import dev

CHAPTERS = dev.chapters()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    return dev.build_assignments(tmp_path_factory.mktemp("assignments"))


def grade(dist: Path, submission: Path, out: Path) -> tuple[float, float, str]:
    """Score, maximum and graded output of `submission` under the assignment's autograder, run locally."""
    autograder = next((dist / "autograder").glob("*.zip"))
    out.mkdir()
    command = [sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(autograder), "-o", str(out)]
    subprocess.run([*command, str(submission)], check=True, capture_output=True)
    scored = [t for t in json.loads((out / "results.json").read_text())["tests"] if t.get("max_score") is not None]
    return sum(t["score"] for t in scored), sum(t["max_score"] for t in scored), "\n".join(t["output"] for t in scored)


@pytest.fixture(scope="module")
def grades(built, tmp_path_factory) -> dict[tuple[str, str], tuple[float, float, str]]:
    """Every chapter's reference notebook and unanswered student notebook, graded two at a time."""
    root = tmp_path_factory.mktemp("graded")
    jobs = {
        (stem, kind): next((dist / kind).glob("*.ipynb"))
        for stem, dist in built.items()
        for kind in ("autograder", "student")
    }
    with ThreadPoolExecutor(2) as pool:
        futures = {
            key: pool.submit(grade, built[key[0]], path, root / f"{key[0]}-{key[1]}") for key, path in jobs.items()
        }
        return {key: future.result() for key, future in futures.items()}


def test_every_chapter_has_a_code_exercise_with_a_check():
    for notebook in CHAPTERS:
        exercise = dev.code_exercise(notebook)
        assert exercise is not None, notebook.name
        assert exercise["helper"].startswith("check_") and exercise["function"] in exercise["solution"]


def test_the_solution_cell_keeps_the_signature_and_hides_the_body():
    code = "import math\n\ndef f(x):\n    y = x + 1\n    return y"
    assert dev._with_solution_markers(code) == (
        "import math\n\ndef f(x):\n    # BEGIN SOLUTION\n    y = x + 1\n    return y\n    # END SOLUTION"
    )
    with pytest.raises(ValueError, match="one function"):
        dev._with_solution_markers("def f():\n    pass\ndef g():\n    pass")


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem[:2])
def test_student_copy_hides_the_solution(built, notebook):
    exercise = dev.code_exercise(notebook)
    student = json.loads(next((built[notebook.stem] / "student").glob("*.ipynb")).read_text())
    code = "\n".join("".join(cell["source"]) for cell in student["cells"] if cell["cell_type"] == "code")
    assert f"def {exercise['function']}(" in code
    assert exercise["solution"].splitlines()[-1].strip() not in code  # the body's last line is gone
    assert exercise["check"] not in code  # the hidden test is not handed out


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem[:2])
def test_reference_gets_full_marks_and_an_unanswered_copy_none_with_the_checks_message(grades, notebook):
    score, most, _ = grades[notebook.stem, "autograder"]
    assert most > 0 and score == most
    score, most, output = grades[notebook.stem, "student"]
    assert score == 0 < most
    assert "casestudies.exercises.ExerciseError" in output  # the chapter's check explains, not a crash
