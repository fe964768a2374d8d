"""Take a screenshot of the report with headless Chromium (Debian's ``chromium`` package)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


class ScreenshotError(RuntimeError):
    """Chromium is missing or could not take the screenshot."""

__all__ = ["ScreenshotError", "find_chromium", "screenshot"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium binary on PATH, or None."""
    return next((path for name in _NAMES if (path := shutil.which(name))), None)


def screenshot(page: Path, png: Path, *, width: int = 1400, height: int = 2000,
               timeout_s: float = 60.0) -> Path:
    """Render ``page`` (a local HTML file) in headless Chromium and save a PNG; return it.

    Runs with a fresh profile and no network features, so it works offline and leaves nothing
    behind. Raises :class:`ScreenshotError` if Chromium is missing or fails.
    """
    binary = find_chromium()
    if binary is None:
        raise ScreenshotError("chromium not found; install it with 'apt-get install -y chromium'")
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="assetwatch-chromium-") as profile:
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                   "--no-first-run", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                   f"--user-data-dir={profile}", f"--screenshot={png.resolve()}",
                   f"--window-size={width},{height}", page.resolve().as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise ScreenshotError(f"chromium did not finish within {timeout_s:.0f} s") from None
    if done.returncode != 0 or not png.exists():
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ScreenshotError(f"chromium could not take the screenshot: {detail}")
    return png
