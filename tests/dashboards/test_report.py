"""The static HTML report: built from the views, and it shows its plots in a real browser."""

from __future__ import annotations

import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from assetwatch.core.settings import Settings
from assetwatch.report import write_report
from assetwatch.report.screenshot import find_chromium, screenshot

pytestmark = pytest.mark.integration


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def report(seeded_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(seeded_settings, tmp_path_factory.mktemp("report"))


def test_report_shows_fleet_riskiest_assets_and_demand(report: Path) -> None:
    assert report.name == "index.html"
    parser = _Elements()
    parser.feed(report.read_text())
    text = " ".join(parser.text)
    for expected in ("Fleet health", "Riskiest assets", "Parts demand", "PUMP-01", "PUMP-02",
                     "COMP-01", "BRG-6309-C3", "SEAL-M37G-45", "vibration_rms", "bearing_temp",
                     "anomaly score"):
        assert expected in text, expected
    # per riskiest asset: one score chart and one per sensor; plus the site bar chart
    assert parser.tags.count("svg") == 1 + 3 * 3
    assert parser.tags.count("polyline") >= 3 * 4
    assert "script" not in parser.tags and "img" not in parser.tags  # self-contained


def _png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit, non-interlaced RGB/RGBA PNG (what Chromium writes) into rows."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 4 if colour == 6 else 3
    raw, stride, rows, previous = zlib.decompress(b"".join(chunks)), width * channels, [], None
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        prior = previous or bytearray(stride)
        for i in range(stride):
            a = row[i - channels] if i >= channels else 0
            b, c = prior[i], prior[i - channels] if i >= channels else 0
            if kind == 1:
                row[i] = (row[i] + a) & 255
            elif kind == 2:
                row[i] = (row[i] + b) & 255
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(row[j] for k in range(0, stride, channels) for j in (k, k + 1, k + 2)))
        previous = row
    return width, height, rows


def _count(rows: list[bytes], rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    n = 0
    for row in rows[::2]:
        for i in range(0, len(row), 6):
            if all(abs(row[i + k] - rgb[k]) <= tolerance for k in range(3)):
                n += 1
    return n


def test_report_renders_with_visible_plots_in_chromium(report: Path, tmp_path: Path) -> None:
    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    png = screenshot(report, tmp_path / "report.png", width=1400, height=2000)
    width, height, rows = _png_pixels(png)
    assert (width, height) == (1400, 2000)
    assert _count(rows, (0x1F, 0x77, 0xB4)) > 500   # sensor lines (blue)
    assert _count(rows, (0xF5, 0xD4, 0xD4), tolerance=12) > 2000  # anomaly spans (pale red)
    assert _count(rows, (0xD6, 0x27, 0x28), tolerance=30) > 200   # critical badges and bars


def test_report_of_an_empty_database_says_so(fresh_settings: Settings, tmp_path: Path) -> None:
    text = write_report(fresh_settings, tmp_path).read_text()
    assert "No asset has data yet" in text and "No demand forecast yet" in text


def test_pixel_check_notices_a_report_without_plots(report: Path, tmp_path: Path) -> None:
    """The same page with its charts removed fails the pixel thresholds above."""
    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    import re

    blank = tmp_path / "index.html"
    blank.write_text(re.sub(r"<svg.*?</svg>", "", report.read_text(), flags=re.DOTALL))
    _, _, rows = _png_pixels(screenshot(blank, tmp_path / "blank.png", width=1400, height=1000))
    assert _count(rows, (0x1F, 0x77, 0xB4)) < 50
    assert _count(rows, (0xF5, 0xD4, 0xD4), tolerance=12) < 200
