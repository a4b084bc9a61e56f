"""Screenshot the top of an mgsearch HTML report with headless Debian Chromium (for docs/img/).

    python scripts/report_screenshot.py quickstart.html docs/img/report-quickstart.png [--width 1000 --height 904]

The page must have been written by ``mgsearch report``; the script waits for plotly to draw, fails
on any JavaScript error, and writes a palette PNG (small enough to commit).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("png", type=Path)
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--height", type=int, default=904)
    args = ap.parse_args(argv)
    from PIL import Image
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(args.report.resolve().as_uri())
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
            page.wait_for_timeout(500)
            raw = Path(tmp) / "shot.png"
            page.screenshot(path=str(raw))
        finally:
            browser.close()
        if errors:
            print(f"{args.report}: JavaScript errors: {errors}", file=sys.stderr)
            return 1
        Image.open(raw).convert("RGB").quantize(colors=256).save(args.png, optimize=True)
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
