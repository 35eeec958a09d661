"""The repository explains itself: no file cites a document outside it, and every relative link of
the docs resolves.

Two checks over the working tree (virtualenvs, caches and build output excluded):

* no source or documentation file cites the design document or the reference notes that live outside
  the repository (by their file names); cite ``docs/...`` instead, or nothing;
* every relative link in ``README.md`` and ``docs/*.md`` (outside code) points to a file that
  exists, and a ``#fragment`` into a Markdown file names one of its headings.

Each check is a function run twice: on a small tree with a known fault (so the check can fail) and on
the repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

#: Directories that are not the repository's own text.
SKIP_DIRS = frozenset(
    {
        ".venv",
        "venv",
        ".git",
        "build",
        "dist",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".tox",
        ".eggs",
    }
)
#: Files whose text is checked for citations.
CHECKED_SUFFIXES = frozenset({".py", ".md", ".toml", ".yaml", ".yml", ".cfg", ".txt"})
CHECKED_NAMES = frozenset({"Makefile", "Dockerfile"})

# Assembled from parts so that this file does not cite them itself.
_OUTSIDE_DOCS = [
    "DESIGN" + r"\.md",
    "reference/" + r"[\w.-]+\.md",
    *(
        re.escape(name) + r"\.md"
        for name in (
            "original-operator-" + "behaviour",
            "operator-" + "patterns",
            "perf-reliability-" + "anchors",
            "successor-operator-" + "notes",
        )
    ),
]
CITATION = re.compile("|".join(_OUTSIDE_DOCS))

LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+).*?\1")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def repository_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts[:-1]):
            continue
        if path.is_file() and (path.suffix in CHECKED_SUFFIXES or path.name in CHECKED_NAMES):
            yield path


def outside_citations(root: Path) -> list[str]:
    """``path:line: text`` of every line that cites a document outside the repository."""
    found = []
    for path in repository_files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if CITATION.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def _prose_lines(text: str, keep_code: bool = False) -> Iterator[str]:
    """The lines of a Markdown text outside fenced code blocks (without inline code spans unless
    ``keep_code``)."""
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield line if keep_code else INLINE_CODE.sub("", line)


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings (lower case, punctuation dropped, spaces → ``-``)."""
    anchors = set()
    for line in _prose_lines(path.read_text(encoding="utf-8"), keep_code=True):
        match = HEADING.match(line)
        if match:
            title = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            anchors.add(title.replace(" ", "-"))
    return anchors


def broken_links(root: Path) -> list[str]:
    """``file: target (why)`` of every relative link of README.md and docs/*.md that does not resolve."""
    broken = []
    documents = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    for doc in documents:
        if not doc.is_file():
            continue
        for line in _prose_lines(doc.read_text(encoding="utf-8")):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:, …
                    continue
                file_part, _, fragment = target.partition("#")
                resolved = (doc.parent / file_part).resolve() if file_part else doc
                where = f"{doc.relative_to(root)}: {target}"
                if not resolved.exists():
                    broken.append(f"{where} (no such file)")
                elif fragment and resolved.suffix == ".md" and fragment not in heading_anchors(resolved):
                    broken.append(f"{where} (no heading #{fragment})")
    return broken


def test_a_citation_of_an_outside_document_is_found(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text('"""Why (see ' + "DESIGN" + '.md §3)."""\n')
    (tmp_path / "notes.md").write_text("As " + "reference/" + "operator-" + "patterns.md says.\n")
    (tmp_path / "ok.py").write_text('"""See docs/architecture.md."""\n')
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "lib.py").write_text("# " + "DESIGN" + ".md\n")
    assert outside_citations(tmp_path) == [
        "notes.md:1: As " + "reference/" + "operator-" + "patterns.md says.",
        "pkg/mod.py:1: " + '"""Why (see ' + "DESIGN" + '.md §3)."""',
    ]


def test_no_file_cites_a_document_outside_the_repository() -> None:
    found = outside_citations(ROOT)
    assert not found, "cite docs/... inside the repository instead:\n" + "\n".join(found)


def test_a_broken_relative_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Two words\n\n## The `x.py` file\n")
    (tmp_path / "README.md").write_text(
        "[ok](docs/a.md) [anchor](docs/a.md#two-words) [code](docs/a.md#the-xpy-file)\n"
        "[web](https://example.com) [self](#top)\n"
        "[gone](docs/missing.md) [bad anchor](docs/a.md#three)\n"
        "```\n[in code](nowhere.md)\n```\n`x[a](b)` # Top\n# Top\n"
    )
    assert broken_links(tmp_path) == [
        "README.md: docs/missing.md (no such file)",
        "README.md: docs/a.md#three (no heading #three)",
    ]


def test_every_relative_link_of_the_docs_resolves() -> None:
    broken = broken_links(ROOT)
    assert not broken, "fix these links:\n" + "\n".join(broken)
