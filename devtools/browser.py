"""`dev.py browse`: every page of a built site opened in headless Chromium with the network cut off, and checked.
Standard library only: it needs a browser, not the project's environment."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from devtools import paths
from devtools.paths import chapters, relative

BROWSERS = ("chromium", "chromium-browser", "google-chrome")  # Debian's package installs /usr/bin/chromium
SKIPPED_LINKS = ("http://", "https://", "mailto:", "javascript:", "data:", "#")
REDIRECT = re.compile(r"<meta[^>]+http-equiv=\"refresh\"", re.IGNORECASE)  # index.html only forwards to the intro


def find_browser() -> str:
    """The first Chromium-family browser on the PATH, or a clear message saying how to get one."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit(
        "no headless browser found (looked for " + ", ".join(BROWSERS) + "): install Debian's `chromium` "
        "package (apt-get install chromium) or Google Chrome, then run `python dev.py browse` again"
    )


def browser_args(browser: str, page: Path, *extra: str) -> list[str]:
    """Headless Chromium on one page with every network request sent to a closed port (so only what the site
    serves itself can load), given time for MathJax to typeset."""
    return [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--proxy-server=127.0.0.1:9", "--virtual-time-budget=15000", *extra, page.as_uri(),
    ]  # fmt: skip


def page_problems(dom: str, page: Path, chapter_page: bool) -> list[str]:
    """What is wrong with one page as the browser rendered it (`dom`, after scripts ran): formulas left as raw
    LaTeX, images or internal links pointing at files that are not in the site, and, on a chapter, no figure
    or no launch button."""
    problems = []
    name = page.name
    # code is shown as written (a regex in a cell may hold "\\("): only prose must have been typeset
    visible = re.sub(r"<(script|style|textarea|pre|code)\b.*?</\1>", " ", dom, flags=re.DOTALL | re.IGNORECASE)
    text = re.sub(r"<[^>]+>", " ", visible)
    raw = [marker for marker in ("\\(", "\\[") if marker in text]
    if raw:
        problems.append(f"{name}: raw LaTeX in the page ({', '.join(raw)}): MathJax did not typeset it")
    if 'class="math' in dom and "<mjx-container" not in dom:
        problems.append(f"{name}: formulas are marked up but none was typeset")
    images = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", dom, flags=re.IGNORECASE)
    for src in images:
        if not src.startswith(SKIPPED_LINKS) and not (page.parent / src.split("#")[0]).is_file():
            problems.append(f"{name}: image {src} is missing")
    links = re.findall(r"<a\b[^>]*\bhref=\"([^\"]+)\"", dom, flags=re.IGNORECASE)
    for href in links:
        target = href.split("#")[0].split("?")[0]
        if target and not href.startswith(SKIPPED_LINKS) and not (page.parent / target).exists():
            problems.append(f"{name}: link to {href} is broken")
    if chapter_page:
        if not any("_images/" in src for src in images):
            problems.append(f"{name}: no figure")
        if "colab.research.google.com" not in dom:
            problems.append(f"{name}: no launch button for Colab")
    return problems


def browse(html: Path) -> None:
    """Open every page of a built site in headless Chromium with the network cut off, check it (`page_problems`),
    and save screenshots of the first and the last chapter to `_build/browser/`."""
    if not (html / "index.html").is_file():
        student = " --student" if paths.STUDENT_DIR in html.parents else ""
        raise SystemExit(f"no site at {relative(html)}: build it first with `python dev.py book{student}`")
    browser = find_browser()
    pages = [
        p
        for p in sorted(html.rglob("*.html"))
        if not p.relative_to(html).parts[0].startswith("_") and not REDIRECT.search(p.read_text(encoding="utf-8"))
    ]
    chapter_pages = {html / "notebooks" / f"{notebook.stem}.html" for notebook in chapters()}
    problems = []
    for page in pages:
        result = subprocess.run(
            browser_args(browser, page, "--dump-dom"), capture_output=True, text=True, timeout=180, check=False
        )
        if result.returncode or not result.stdout.strip():
            problems.append(f"{page.name}: the browser could not render it ({result.stderr.strip()[-200:]})")
            continue
        problems += page_problems(result.stdout, page, chapter_page=page in chapter_pages)
    missing = chapter_pages - set(pages)
    problems += [f"{relative(page)}: a chapter with no page in the site" for page in sorted(missing)]
    paths.BROWSE_DIR.mkdir(parents=True, exist_ok=True)
    shown = sorted(chapter_pages & set(pages))
    for page in shown[:1] + shown[-1:]:
        shot = paths.BROWSE_DIR / f"{page.stem}.png"
        subprocess.run(
            browser_args(browser, page, f"--screenshot={shot}", "--window-size=1280,2400"),
            capture_output=True, timeout=180, check=False,
        )  # fmt: skip
    if problems:
        raise SystemExit(f"{len(problems)} problem(s) in {relative(html)}:\n  " + "\n  ".join(problems))
    print(
        f"{len(pages)} pages rendered offline with their math, figures, links and launch buttons; "
        f"screenshots in {relative(paths.BROWSE_DIR)}"
    )
