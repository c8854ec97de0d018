"""The front door and the pages behind it: every link resolves, the README's example is true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spark_streams.cli import main
from tests.conftest import PROJECT, StreamWriter

PAGES = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    for target in _LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{page.name}: {target}"


def test_the_readme_stays_a_front_door() -> None:
    text = (PROJECT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    for command in ("make plan", "make test", "spark-streams new"):
        assert command in text
    linked = set(_LINK.findall(text))
    for page in (PROJECT / "docs").glob("*.md"):
        assert f"docs/{page.name}" in linked, f"README does not link {page.name}"


def test_the_readmes_example_stream_plans(
    write_stream: StreamWriter, streams_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (PROJECT / "README.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    write_stream("inventory_ingest.py", example)
    for stack in ("dev", "prod"):
        code = main(["plan", "--stack", stack, "--streams-dir", str(streams_dir)])
        assert code == 0, capsys.readouterr().err
