"""An email preview rendered by headless Chromium shows a real page, not a blank one."""

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from agent.review.preview import write_preview
from tests.review.helpers import seed_draft

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# A rendered email paints its background and text; a blank page is one colour.
MIN_DISTINCT_COLOURS = 16
MIN_NON_WHITE_SHARE = 0.5
MIN_DARK_SHARE = 0.002


def screenshot(page: Path, tmp_path: Path) -> Path:
    target = tmp_path / "shot.png"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={target}",
        "--window-size=800,1200",
        page.as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return target


@pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="chromium is not installed; `apt-get install chromium` to run this test",
)
def test_email_preview_renders_in_chromium(services, tmp_path) -> None:
    draft = seed_draft(services)
    page = write_preview(draft, tmp_path / "preview.html")
    image = Image.open(screenshot(page, tmp_path)).convert("RGB")
    colours = image.getcolors(maxcolors=image.width * image.height)
    total = image.width * image.height
    non_white = sum(n for n, colour in colours if colour != (255, 255, 255)) / total
    dark = sum(n for n, colour in colours if sum(colour) < 3 * 110) / total
    assert image.size == (800, 1200)
    assert len(colours) >= MIN_DISTINCT_COLOURS
    assert non_white > MIN_NON_WHITE_SHARE
    assert dark > MIN_DARK_SHARE
