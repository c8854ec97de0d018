"""The front door and the pages behind it: every link resolves, the README's example is true."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from spark_streams.cli import main
from spark_streams.commands import new
from tests.conftest import PROJECT, StreamWriter

README = (PROJECT / "README.md").read_text()
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
    assert len(text.splitlines()) <= 170
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    assert len(paragraphs) == len(set(paragraphs)), "a paragraph is said twice"
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


def _readme_example() -> str:
    found = re.search(r"```python\n(.*?)```", README, flags=re.S)
    assert found is not None
    return found.group(1)


def test_the_readmes_example_is_what_new_writes() -> None:
    command = re.search(r"^spark-streams new (\S+) --topic (\S+) --owner (\S+)", README, re.M)
    assert command is not None
    name, topic, owner = command.groups()
    assert _readme_example() == new.source(new.NewStream(name, topic=topic, owner=owner))


def _layout() -> set[str]:
    """The paths the README's layout names: top-level entries, and the files under the
    directory above them (two spaces of indent)."""
    block = README.split("## Layout", 1)[1].split("```")[1]
    named: set[str] = set()
    parent = ""
    for line in block.strip("\n").splitlines():
        indent = len(line) - len(line.lstrip())
        entry = re.split(r"\s{2,}", line.strip())[0]
        for part in (p.strip() for p in entry.split(",")):
            path = f"{parent}{part}" if indent else part
            named.add(path.rstrip("/"))
            if not indent and part.endswith("/"):
                parent = part
    return named


def test_the_layout_names_what_the_tree_holds() -> None:
    named = set()
    for path in _layout():
        if "<stack>" in path:  # every stack file
            named |= {p.name for p in PROJECT.glob(path.replace("<stack>", "*"))}
        else:
            named.add(path)
    for path in named:
        assert (PROJECT / path).exists(), f"the layout names {path}, which is not there"
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout.split()
    top = {name.split("/")[0] for name in tracked} - {".gitignore", "README.md"}
    assert top - {path.split("/")[0] for path in named} == set(), "top-level entries left out"
    modules = {
        name.removesuffix("/__init__.py")
        for name in tracked
        if name.startswith(("spark_streams/", "components/"))
        and name.count("/") == 1 + name.endswith("/__init__.py")
        and name.endswith(".py")
        and not name.endswith(("spark_streams/__init__.py", "components/__init__.py"))
    }
    assert modules - named == set(), "modules the layout leaves out"
