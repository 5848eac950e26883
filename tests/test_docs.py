"""The documentation's own checks, fast and without Ray or torch: every relative Markdown link in
README.md and docs/ resolves, the README stays short, every shipped sweep file is named somewhere,
and no page reads as a development log."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 200

LINK = re.compile(r"\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")  # [text](target "title")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)  # http:, https:, mailto:, ...
DEV_LOG = re.compile(r"\bsession [0-9]+|this session|earlier session", re.IGNORECASE)


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def relative_links(page: Path) -> list[str]:
    targets = LINK.findall(prose(page.read_text(encoding="utf-8")))
    return [t for t in targets if not EXTERNAL.match(t) and not t.startswith("#")]


def resolves(page: Path, target: str) -> bool:
    path = target.split("#", 1)[0].split("?", 1)[0]
    return (page.parent / path).exists()


def test_link_pattern_finds_links_and_skips_code() -> None:
    text = "[a](x.md) and ![b](img.png#top) `[c](not-a-link)` [d](https://e.org) [e](f.md \"title\")"
    assert LINK.findall(prose(text)) == ["x.md", "img.png#top", "https://e.org", "f.md"]
    assert LINK.findall(prose("```\n[g](inside-a-fence.md)\n```\n")) == []


def test_every_relative_link_resolves() -> None:
    found, broken = 0, []
    for page in pages():
        for target in relative_links(page):
            found += 1
            if not resolves(page, target):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert found >= 20, f"only {found} relative links found: is the link pattern still right?"
    assert broken == []


def test_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"


def test_every_shipped_sweep_is_named() -> None:
    text = "\n".join(page.read_text(encoding="utf-8") for page in pages())
    files = sorted((ROOT / "ablations").glob("*.yaml")) + sorted((ROOT / "search_spaces").glob("*.yaml"))
    assert files
    assert [f"{f.parent.name}/{f.name}" for f in files if f.name not in text] == []


def test_no_development_log() -> None:
    hits = [f"{page.relative_to(ROOT)}:{n}: {line.strip()}"
            for page in pages()
            for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1)
            if DEV_LOG.search(line)]
    assert hits == []
