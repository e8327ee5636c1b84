"""The HTML report in a real headless browser (Debian's chromium; .ci/run installs it).

Skipped, saying why, where no browser is found. ``ECOCOMP_BROWSER`` names another
Chromium-compatible binary.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from datetime import date
from pathlib import Path

import pytest

import ecocomp
from ecocomp.reports import write_report
from ecocomp.standards import WaterClass

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def _browser() -> str | None:
    named = os.environ.get("ECOCOMP_BROWSER")
    if named:
        return shutil.which(named) or named
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


BROWSER = _browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no headless browser found (looked for chromium, chromium-browser, google-chrome; "
    "install Debian's chromium as .ci/run does, or set ECOCOMP_BROWSER)",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    db = folder / "settle.db"
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.settle(ecocomp.load_project(EXAMPLE), year=2021, ledger=ledger)
    return write_report(db, 2021, folder / "report.html", as_of=date(2022, 5, 1))


def _run(report: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    assert BROWSER is not None
    return subprocess.run(
        [BROWSER, *FLAGS, f"--user-data-dir={profile}", *args, report.as_uri()],
        capture_output=True, timeout=300, check=False, cwd=profile,
    )


def test_the_browser_builds_the_heat_map_and_the_statements(report, tmp_path):
    done = _run(report, tmp_path, "--dump-dom")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    dom = done.stdout.decode("utf-8")
    # the parsed page (what the browser built, not the file): heat map, legend, statements
    assert 'aria-label="class heatmap"' in dom and dom.count("<rect") >= 10 * 14
    assert 'class="legend"' in dom
    assert dom.count('<section class="party" id="party-') == 7
    assert "年度净额 net -800,000.00 元" in dom  # 常德市's statement
    assert 'class="overdue"' in dom


def _pixels(png: bytes) -> set[tuple[int, int, int]]:
    """The colours of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, data, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            data += chunk
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(data), width * channels, [], bytes(width * channels)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = bytes(line)
    return {tuple(r[i:i + 3]) for r in rows for i in range(0, stride, channels)}  # type: ignore[misc]


def test_the_browser_paints_the_class_colours(report, tmp_path):
    shot = tmp_path / "report.png"
    done = _run(report, tmp_path, "--window-size=1200,2200", f"--screenshot={shot}",
                "--hide-scrollbars")
    assert done.returncode == 0 and shot.is_file(), done.stderr.decode(errors="replace")[-2000:]
    colours = _pixels(shot.read_bytes())
    # Ⅱ (most months) and Ⅳ (金鱼石 in February and August) are painted on screen
    for cls in (WaterClass.II, WaterClass.IV):
        rgb = tuple(int(cls.colour[i:i + 2], 16) for i in (1, 3, 5))
        assert rgb in colours, f"{cls.roman} {cls.colour} not painted"
