"""The README stays a front door: short, mapping every doc, with links that resolve."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_MAX_LINES = 220
DOC_FILES = sorted((ROOT / "docs").glob("*.md"))

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = ("http://", "https://", "mailto:")


def prose(markdown):
    """Return the text outside fenced code blocks, where links and headings count."""
    return FENCE.sub("", markdown)


def anchors(markdown):
    """Return the anchors GitHub gives the headings of a Markdown text."""
    seen, result = {}, set()
    for heading in HEADING.findall(prose(markdown)):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def broken_links(path):
    """Return the relative links of a Markdown file whose file or heading does not exist."""
    text = prose(path.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(INLINE_CODE.sub("", text)):
        if target.startswith(EXTERNAL):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and not has_anchor(
                linked, anchor)):
            broken.append(target)
    return broken


def has_anchor(path, anchor):
    """Tell whether a Markdown file has a heading GitHub gives this anchor."""
    return anchor in anchors(path.read_text(encoding="utf-8"))


def test_the_readme_is_a_front_door_not_a_manual():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; move detail into docs/ and link it from the map")


def test_the_readme_maps_every_doc():
    assert DOC_FILES, "docs/ holds no Markdown file"
    linked = {target.partition("#")[0] for target in LINK.findall(README.read_text("utf-8"))}
    unmapped = [doc.name for doc in DOC_FILES if f"docs/{doc.name}" not in linked]
    assert unmapped == [], f"add a line for each to the README's map of the docs: {unmapped}"


@pytest.mark.parametrize("path", [README, *DOC_FILES], ids=lambda path: path.name)
def test_every_relative_link_points_at_something_that_exists(path):
    assert broken_links(path) == []


def test_the_link_check_catches_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## Known heading\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page: one\n\n"
        "[fine](other.md#known-heading) [here](#page-one) [web](https://example.org/x)\n"
        "[no file](missing.md) [no heading](other.md#unknown) [no local](#nowhere)\n"
        "```\n[in code](ignored.md)\n```\n",
        encoding="utf-8")
    assert broken_links(page) == ["missing.md", "other.md#unknown", "#nowhere"]
