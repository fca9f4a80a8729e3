"""The course assignments: each chapter's code exercise as an Otter-Grader assignment, and a class's submissions
graded with it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from devtools import paths
from devtools.colab import install_spec
from devtools.environment import TORCH_CPU, TORCH_CPU_INDEX, python, sh
from devtools.paths import chapters, relative


def _balanced_call(text: str, start: int) -> str:
    """The call that starts at `start` (`name(`), up to its matching closing parenthesis."""
    depth = 0
    for end in range(text.index("(", start), len(text)):
        depth += {"(": 1, ")": -1}.get(text[end], 0)
        if depth == 0:
            return text[start : end + 1]
    raise ValueError(f"unbalanced call in {text[start : start + 80]!r}")


def _first_code_block(markdown: str) -> list[str]:
    """The first indented (4-space) code block of a piece of markdown, dedented, blank lines kept inside."""
    lines, inside = [], False
    for line in markdown.splitlines():
        if line.startswith("    ") or (inside and not line.strip()):
            inside = True
            lines.append(line[4:])
        elif inside:
            break
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def code_exercise(notebook: Path) -> dict | None:
    """A chapter's auto-checked code exercise, read from its markdown: its label, its prompt, the reference
    solution (the solution's first code block, up to the check) and the `casestudies.exercises` check that
    grades it, with the name of the function it checks; None when the chapter has none."""
    cells = json.loads(notebook.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for match in re.finditer(r"```\{exercise\}\n:label: (\S+)\n(.*?)\n```", text, re.S):
        label, prompt = match.group(1), match.group(2).strip()
        solution = re.search(r"```\{solution\} " + re.escape(label) + r"\n(.*?)\n```", text, re.S)
        found = re.search(r"check_\w+\(", prompt + "\n" + (solution.group(1) if solution else ""))
        if not solution or not found:
            continue
        check = _balanced_call(found.string, found.start())
        code = []
        for line in _first_code_block(solution.group(1)):
            if "check_" in line and "import" not in line:
                break
            if not line.startswith("from casestudies.exercises import"):
                code.append(line)
        function = re.match(r"check_\w+\((\w+)", check)
        return {
            "label": label,
            "prompt": prompt,
            "solution": "\n".join(code).strip(),
            "check": check,
            "helper": check.split("(")[0],
            "function": function.group(1) if function else None,
        }
    return None


def _with_solution_markers(code: str) -> str:
    """The reference code with the body of its one function, which ends it, between Otter's solution markers:
    the student's copy keeps the imports and the signature, and `...` for the body."""
    if code.count("def ") != 1:
        raise ValueError(f"a code exercise's solution should define one function, got:\n{code}")
    head, _, body = code.partition("\n    ")
    return f"{head}\n    # BEGIN SOLUTION\n    {body}\n    # END SOLUTION"


def assignment_master(notebook: Path, exercise: dict) -> dict:
    """An Otter-Grader master notebook for a chapter's code exercise: the prompt, the reference solution between
    solution markers, and a hidden test that runs the chapter's own check (so the grade and its message are the
    book's)."""
    import nbformat

    v4 = nbformat.v4
    name = re.sub(r"\W", "_", exercise["label"])
    cells = [
        v4.new_raw_cell(
            f"# ASSIGNMENT CONFIG\nname: {notebook.stem}\nexport_cell: false\ninit_cell: false\ncheck_all_cell: false\n"
            "requirements: requirements.txt\n"
        ),
        v4.new_markdown_cell(
            f"# {notebook.stem}: the chapter's code exercise\n\nThe exercise comes from the "
            f"chapter `{notebook.name}`. The first code cell installs the book's package and Otter where they "
            "are missing. Write your answer in the cell below the question; `grader.check` under it runs the "
            "chapter's own check on your function, the same test the autograder scores."
        ),
        v4.new_code_cell(
            "import importlib.util, subprocess, sys\n"
            f'for module, spec in [("otter", "otter-grader==7.0.0"), ("casestudies", "{install_spec()}")]:\n'
            "    if importlib.util.find_spec(module) is None:  # a fresh environment, Colab say: install it\n"
            '        subprocess.run([sys.executable, "-m", "pip", "install", "-q", spec], check=True)\n\n'
            "import math\n\nimport numpy as np\nimport otter\n"
            f"from casestudies.exercises import {exercise['helper']}\n\n"
            f'grader = otter.Notebook("{notebook.stem}.ipynb")  # runs the public test: `grader.check(...)` below'
        ),
        v4.new_raw_cell(f"# BEGIN QUESTION\nname: {name}\npoints: 1"),
        v4.new_markdown_cell(exercise["prompt"]),
        v4.new_raw_cell("# BEGIN SOLUTION"),
        v4.new_code_cell(_with_solution_markers(exercise["solution"])),
        v4.new_raw_cell("# END SOLUTION"),
        v4.new_raw_cell("# BEGIN TESTS"),
        v4.new_code_cell(
            f'""" # BEGIN TEST CONFIG\nhidden: false\n""" # END TEST CONFIG\n'
            f"from casestudies.exercises import {exercise['helper']}\n"
            f"report = {exercise['check']}"
        ),
        v4.new_raw_cell("# END TESTS"),
        v4.new_raw_cell("# END QUESTION"),
    ]
    master = v4.new_notebook(cells=cells)
    master.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return master


def autograder_requirements() -> str:
    """What an autograder installs besides Otter (Gradescope builds its image from it): CPU torch and this
    book's package at the pinned release, so the chapter's check is there to grade with."""
    return f"--extra-index-url {TORCH_CPU_INDEX}\n{TORCH_CPU}\n{install_spec()}\n"


def build_assignments(out: Path = paths.ASSIGNMENTS_DIR, only: list[Path] | None = None) -> dict[str, Path]:
    """Every chapter's code exercise (or `only` those chapters') as an Otter-Grader assignment under
    `out/<chapter>/`: `student/` (the notebook to hand out, solution stripped) and `autograder/` (the zip for
    `otter run` or Gradescope, and the reference notebook). Otter Assign grades the reference solution as it
    builds, so a broken one stops here."""
    import nbformat

    built = {}
    for notebook in only or chapters():
        exercise = code_exercise(notebook)
        if exercise is None:
            raise SystemExit(f"{relative(notebook)} has no auto-checked code exercise to turn into an assignment")
        folder = out / notebook.stem
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        master = folder / f"{notebook.stem}.ipynb"
        nbformat.write(assignment_master(notebook, exercise), master)
        (folder / "requirements.txt").write_text(autograder_requirements(), encoding="utf-8")
        sh(python(), "-m", "otter", "assign", "--no-pdfs", master.name, "dist", cwd=folder)
        built[notebook.stem] = folder / "dist"
    print(f"\nThe assignments are under {relative(out)}/<chapter>/dist/ (student/ and autograder/)")
    return built


def grade_class(notebook: Path, submissions: Path) -> Path:
    """Grade every notebook in `submissions` with the chapter's autograder under `otter run`, one after another
    on this machine, and write `submissions/grades.csv` (submission, score, out of, the check's message)."""
    import csv

    dist = build_assignments(paths.ASSIGNMENTS_DIR, only=[notebook])[notebook.stem]
    autograder = next((dist / "autograder").glob("*.zip"))
    handed_in = sorted(p for p in submissions.glob("*.ipynb") if not p.name.startswith("."))
    if not handed_in:
        sys.exit(f"no submitted notebooks (*.ipynb) in {submissions}")
    rows = []
    for submission in handed_in:
        with tempfile.TemporaryDirectory(prefix="casestudies-grade-") as out:
            command = [python(), "-m", "otter", "run", "--no-logo", "-a", str(autograder), "-o", out]
            ran = subprocess.run([*command, str(submission)], capture_output=True, text=True)
            report = Path(out) / "results.json"
            if ran.returncode or not report.exists():
                rows.append([submission.name, 0, "", f"could not be graded: {ran.stderr.strip()[-300:]}"])
                continue
            tests = [t for t in json.loads(report.read_text())["tests"] if t.get("max_score") is not None]
            message = " | ".join(t["output"].strip().splitlines()[-1] for t in tests if t["output"].strip())
            rows.append([submission.name, sum(t["score"] for t in tests), sum(t["max_score"] for t in tests), message])
        print(f"{submission.name}: {rows[-1][1]} / {rows[-1][2]}", flush=True)
    table = submissions / "grades.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["submission", "score", "out of", "message"], *rows])
    print(f"\nThe grades are in {table}")
    return table
