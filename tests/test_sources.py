"""Cited sources ship with the package; docs and data cite no file that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from ecocomp.agreements import preset, presets
from ecocomp.sources import cited, sources

ROOT = Path(__file__).resolve().parent.parent
TAG = re.compile(r"\b(S[0-9]+[a-e]?|N[0-9]+)\b", re.ASCII)


def shipped_text_files() -> list[Path]:
    """Everything a user reads: docs, README, presets, reference data, schemas, examples."""
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "ecocomp" / "reports.py"]
    files += sorted((ROOT / "docs").glob("*.md"))
    files += sorted((ROOT / "ecocomp" / "presets").glob("*.toml"))
    files += sorted((ROOT / "ecocomp" / "data").glob("*.toml"))
    files += sorted((ROOT / "schemas").glob("*.json"))
    files += sorted(p for p in (ROOT / "examples").rglob("*")
                    if p.suffix in (".md", ".toml", ".py"))
    return files


def test_every_cited_tag_is_a_shipped_source() -> None:
    known = sources()
    assert len(known) >= 19 and all(s.urls and s.title for s in known.values())
    unknown = {f"{path.relative_to(ROOT)}: {tag}" for path in shipped_text_files()
               for tag in TAG.findall(path.read_text(encoding="utf-8")) if tag not in known}
    assert not unknown


def test_every_preset_source_resolves_to_shipped_sources() -> None:
    for name in presets(templates=True):
        text = (ROOT / "ecocomp" / "presets" / f"{name}.toml").read_text(encoding="utf-8")
        assert cited(text), name
    assert [s.tag for s in cited(preset("chishui-2018").source)] == ["S9"]


def test_docs_sources_md_lists_every_shipped_source() -> None:
    doc = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    for s in sources().values():
        line = next(ln for ln in doc.splitlines() if ln.startswith(f"| {s.tag} |"))
        assert s.title in line and all(url in line for url in s.urls)


# a path as cited in prose: docs/x.md, ecocomp/data/y.toml, benchmarks/z.py, or a bare x.md
_PATH = re.compile(r"(?<![\w/.:-])((?:docs|ecocomp|examples|benchmarks|schemas|tests)/"
                   r"[\w./*{},-]+|[\w-]+\.md)\b")


def test_no_shipped_text_cites_a_file_that_does_not_exist() -> None:
    missing = []
    for path in shipped_text_files():
        text = path.read_text(encoding="utf-8")
        for match in _PATH.finditer(text):
            ref = match.group(1).rstrip(".,")
            if any(ch in ref for ch in "*{") or "<" in text[match.end():match.end() + 2]:
                continue  # a pattern: presets/*.toml, params.<formula>.schema.json
            candidates = [ROOT / ref, ROOT / "docs" / ref, path.parent / ref]
            if not any(c.exists() for c in candidates):
                missing.append(f"{path.relative_to(ROOT)}: {ref}")
    assert not missing
    assert not [p for p in shipped_text_files() if "domain.md" in p.read_text(encoding="utf-8")]
