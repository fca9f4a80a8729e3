"""`dev.py browse`: every page of a built site opened in headless Chromium with the network cut off, and checked.
Standard library only: it needs a browser, not the project's environment."""

from __future__ import annotations

import html as markup
import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from devtools import paths
from devtools.paths import chapters, relative

BROWSERS = ("chromium", "chromium-browser", "google-chrome")  # Debian's package installs /usr/bin/chromium
SKIPPED_LINKS = ("http://", "https://", "mailto:", "javascript:", "data:", "#")
REDIRECT = re.compile(r"<meta[^>]+http-equiv=\"refresh\"", re.IGNORECASE)  # index.html only forwards to the intro
WINDOW = "--window-size=1280,2400"  # the desktop width the layout is checked at
MIN_FIGURE_SCALE = 0.6  # a figure shown below this share of its width has text too small to read
DEBTS = paths.ROOT / "book" / "layout-debts.txt"  # layout problems known, listed until their chapter is re-run
# Added to a copy of each page: once it has laid out, unfold every dropdown, measure every figure's shown share of
# its width and every table or output block wider than the text column, and leave the findings in the page for
# `--dump-dom`.
PROBE = """<script>
window.addEventListener("load", () => {
  for (const folded of document.querySelectorAll("details")) folded.open = true;  // what a reader can unfold
  setTimeout(() => {
  const found = [];
  try {
    const main = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
    const column = main.clientWidth;
    for (const img of main.querySelectorAll("img")) {
      const shown = img.getBoundingClientRect().width;
      if (img.naturalWidth > 0 && shown / img.naturalWidth < MIN_FIGURE_SCALE)
        found.push({kind: "figure", what: (img.getAttribute("src") || "").split("/").pop(),
                    detail: `shown at ${Math.round(100 * shown / img.naturalWidth)}% of its width`});
    }
    for (const el of main.querySelectorAll("table, pre")) {
      if (el.scrollWidth > column + 2)
        found.push({kind: el.tagName === "TABLE" ? "table" : "output", what: (el.innerText || "").trim().slice(0, 40),
                    detail: `${el.scrollWidth} px wide in a ${column} px column`});
    }
  } catch (error) {
    found.push({kind: "probe", what: String(error), detail: "the measurement failed"});
  }
  const report = document.createElement("pre");
  report.id = "layout-report";
  report.textContent = JSON.stringify(found);
  document.body.appendChild(report);
  }, 300);
});
</script>""".replace("MIN_FIGURE_SCALE", str(MIN_FIGURE_SCALE))


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


def rendered(browser: str, page: Path) -> subprocess.CompletedProcess:
    """The page's DOM after its scripts ran, in a desktop-sized window, from a copy of it carrying `PROBE` (in
    the same folder, so its relative links resolve)."""
    probe = page.with_name(f".layout-{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    try:
        args = browser_args(browser, probe, WINDOW, "--dump-dom")
        return subprocess.run(args, capture_output=True, text=True, timeout=180, check=False)
    finally:
        probe.unlink()


def layout_problems(dom: str, page: Path) -> list[str]:
    """The layout problems `PROBE` left in a rendered page: a figure shown below `MIN_FIGURE_SCALE` of its width,
    a table or output block wider than the text column. Each reads "page: kind what (detail)"."""
    report = re.search(r'<pre id="layout-report"[^>]*>(.*?)</pre>', dom, flags=re.DOTALL)
    if report is None:
        return [f"{page.name}: the layout could not be measured"]
    found = json.loads(markup.unescape(report.group(1)))
    return [f"{page.name}: {f['kind']} {' '.join(f['what'].split())!r} ({f['detail']})" for f in found]


def known_debts() -> Counter[str]:
    """The layout problems `book/layout-debts.txt` lists (without their measured details), each as often as it
    occurs: accepted until the chapter is re-run with figures and tables that fit, and reported on every browse."""
    if not DEBTS.is_file():
        return Counter()
    lines = DEBTS.read_text(encoding="utf-8").splitlines()
    return Counter(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def without_detail(problem: str) -> str:
    """A layout problem as `book/layout-debts.txt` lists it: without the measured detail in brackets."""
    return re.sub(r" \([^()]*\)$", "", problem)


def browse(html: Path) -> None:
    """Open every page of a built site in headless Chromium with the network cut off, check it (`page_problems`)
    and its layout at 1280 px (`layout_problems`: any not listed in `book/layout-debts.txt` fails, and a listed
    one no longer found must be taken off the list), and save screenshots of the first and the last chapter to
    `_build/browser/`."""
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
    problems, layout = [], []
    for page in pages:
        result = rendered(browser, page)
        if result.returncode or not result.stdout.strip():
            problems.append(f"{page.name}: the browser could not render it ({result.stderr.strip()[-200:]})")
            continue
        problems += page_problems(result.stdout, page, chapter_page=page in chapter_pages)
        layout += layout_problems(result.stdout, page)
    debts, found = known_debts(), Counter(without_detail(p) for p in layout)
    new = found - debts  # a page with one more wide table than listed fails, even with the same first words
    problems += [p for p in layout if new[without_detail(p)]]
    fixed = debts - found
    problems += [f"{d}: listed in {relative(DEBTS)} but fixed: take it off the list" for d in sorted(fixed)]
    known = [p for p in layout if debts[without_detail(p)]]
    if known:
        print(
            f"{len(known)} known layout problem(s), listed in {relative(DEBTS)} until their chapters are re-run:\n  "
            + "\n  ".join(known)
        )
    missing = chapter_pages - set(pages)
    problems += [f"{relative(page)}: a chapter with no page in the site" for page in sorted(missing)]
    paths.BROWSE_DIR.mkdir(parents=True, exist_ok=True)
    shown = sorted(chapter_pages & set(pages))
    for page in shown[:1] + shown[-1:]:
        shot = paths.BROWSE_DIR / f"{page.stem}.png"
        subprocess.run(
            browser_args(browser, page, f"--screenshot={shot}", WINDOW),
            capture_output=True, timeout=180, check=False,
        )  # fmt: skip
    if problems:
        raise SystemExit(f"{len(problems)} problem(s) in {relative(html)}:\n  " + "\n  ".join(problems))
    print(
        f"{len(pages)} pages rendered offline with their math, figures, links, launch buttons and layout; "
        f"screenshots in {relative(paths.BROWSE_DIR)}"
    )
