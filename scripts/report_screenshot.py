"""Screenshot the top of an mgsearch HTML report with headless Debian Chromium (for docs/img/).

    python scripts/report_screenshot.py quickstart.html docs/img/report-quickstart.png [--width 1000 --height 904]
    python scripts/report_screenshot.py quickstart.html out.png --sections answer,pareto-params,trials

``--sections`` stacks the named parts of the page (a figure's anchor such as ``pareto-params``,
``best-so-far``, ``learning-curves``, ``layer-widths``; ``answer``; ``trials`` for the table's first
rows) into one image instead of the top of the page.

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
    ap.add_argument("--sections", help="comma-separated parts to stack (figure anchors, answer, trials)")
    ap.add_argument("--rows", type=int, default=8, help="with --sections trials: table rows shown")
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
            parts = []
            if args.sections:
                page.evaluate(f"""() => {{ const rows = document.querySelectorAll('#trials tbody tr');
                    rows.forEach((r, i) => {{ if (i >= {args.rows}) r.style.display = 'none'; }}); }}""")
                for i, name in enumerate(s.strip() for s in args.sections.split(",") if s.strip()):
                    sel = ".tablewrap" if name == "trials" else f"#{name}"
                    if page.query_selector(sel) is None:
                        print(f"{args.report}: no section {name!r} on the page", file=sys.stderr)
                        return 1
                    part = Path(tmp) / f"part{i}.png"
                    page.locator(sel).screenshot(path=str(part))
                    parts.append(Image.open(part).convert("RGB"))
            else:
                page.screenshot(path=str(raw))
        finally:
            browser.close()
        if errors:
            print(f"{args.report}: JavaScript errors: {errors}", file=sys.stderr)
            return 1
        if parts:
            gap = 12
            img = Image.new("RGB", (max(p.width for p in parts), sum(p.height for p in parts) + gap * (len(parts) - 1)),
                            "white")
            y = 0
            for p in parts:
                img.paste(p, (0, y))
                y += p.height + gap
        else:
            img = Image.open(raw).convert("RGB")
        img.quantize(colors=256).save(args.png, optimize=True)
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
