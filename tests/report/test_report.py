"""The static HTML report: built from the views, and it shows its plots in a real browser."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from screenshot import find_chromium, screenshot

from assetwatch.core.settings import Settings
from assetwatch.report import write_report

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


def _pixels(path: Path) -> tuple[int, int, np.ndarray]:
    """Width, height and the RGB pixels of a screenshot."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    return rgb.shape[1], rgb.shape[0], rgb


def _count(pixels: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels are within ``tolerance`` of the colour ``rgb`` in every channel."""
    return int((np.abs(pixels - np.array(rgb)) <= tolerance).all(axis=2).sum())


def test_report_renders_with_visible_plots_in_chromium(report: Path, tmp_path: Path) -> None:
    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    png = screenshot(report, tmp_path / "report.png", width=1400, height=2000)
    width, height, rows = _pixels(png)
    assert (width, height) == (1400, 2000)
    assert _count(rows, (0x1F, 0x77, 0xB4)) > 1000   # sensor lines (blue)
    assert _count(rows, (0xF5, 0xD4, 0xD4), tolerance=12) > 4000  # anomaly spans (pale red)
    assert _count(rows, (0xD6, 0x27, 0x28), tolerance=30) > 400   # critical badges and bars


def test_report_of_an_empty_database_says_so(fresh_settings: Settings, tmp_path: Path) -> None:
    text = write_report(fresh_settings, tmp_path).read_text()
    assert "No asset has data yet" in text and "No demand forecast yet" in text
    assert "No visits planned" in text


def test_pixel_check_notices_a_report_without_plots(report: Path, tmp_path: Path) -> None:
    """The same page with its charts removed fails the pixel thresholds above."""
    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    import re

    blank = tmp_path / "index.html"
    blank.write_text(re.sub(r"<svg.*?</svg>", "", report.read_text(), flags=re.DOTALL))
    _, _, rows = _pixels(screenshot(blank, tmp_path / "blank.png", width=1400, height=1000))
    assert _count(rows, (0x1F, 0x77, 0xB4)) < 100
    assert _count(rows, (0xF5, 0xD4, 0xD4), tolerance=12) < 400


def test_report_has_a_printable_day_sheet_per_technician(report: Path) -> None:
    parser = _Elements()
    parser.feed(report.read_text())
    text = " ".join(parser.text)
    for expected in ("Day sheets", "Ana Field", "PUMP-01: bearing_wear", "1 \u00d7 BRG-6309-C3"):
        assert expected in text, expected
    sheet = report.parent / "daysheet-T1.html"
    sheet_parser = _Elements()
    sheet_parser.feed(sheet.read_text())
    assert "PUMP-01: bearing_wear" in " ".join(sheet_parser.text)
    assert "break-before: page" in sheet.read_text()
    assert not (report.parent / "daysheet-T2.html").exists()  # T2 has no visit planned
