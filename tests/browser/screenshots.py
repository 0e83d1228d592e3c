"""Screenshots of the meeting page for the README (``make screenshots``).

Runs the service on a temporary SQLite database with the example trial, signs in as the SRC in
Debian's Chromium and writes docs/meeting-desktop.png (the screen) and docs/meeting-print.png (the
print layout, as the page prints as the meeting record).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from tests.api.conftest import patient_body, protocol
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, example_document, start_demo

DOCS = Path(__file__).resolve().parents[2] / "docs"
# the screen while P012's window is still open (BOIN waits; the pathways assume it completes),
# the printed record once every window has closed
SCREEN_AS_OF, PRINT_AS_OF = "2026-08-10", "2026-08-20"


def _down_to(page: Any, selector: str) -> dict[str, float]:
    """The page from its top to the bottom of ``selector``."""
    box = page.locator(selector).bounding_box()
    width = page.evaluate("document.documentElement.scrollWidth")
    return {"x": 0, "y": 0, "width": width, "height": box["y"] + box["height"] + 8}


def main() -> int:
    if not CHROMIUM.exists():
        sys.stderr.write(f"Chromium not found at {CHROMIUM}: run `make chromium`\n")
        return 1
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server, api = start_demo(Path(tmp))
        with server:
            document = example_document()
            with api.client("statistician") as c:
                created = c.post("/v1/trials", json=protocol(document, name=document["name"]))
                created.raise_for_status()
                trial_id = created.json()["id"]
            with api.client("data-system") as c:
                for patient in document["patients"]:
                    c.put(
                        f"/v1/trials/{trial_id}/patients/{patient['id']}",
                        json=patient_body(patient),
                    ).raise_for_status()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(api.url + "/")
                page.fill("#key", api.keys["src"])
                page.click("#sign-in")
                page.wait_for_url("**/ui/trials")
                page.goto(f"{api.url}/ui/trials/{trial_id}?as_of={SCREEN_AS_OF}")
                # the screen down to the decision form; the first part of the printed record
                page.screenshot(
                    path=str(DOCS / "meeting-desktop.png"),
                    full_page=True,
                    clip=_down_to(page, "#decide"),
                )
                page.goto(f"{api.url}/ui/trials/{trial_id}?as_of={PRINT_AS_OF}")
                page.set_viewport_size({"width": 820, "height": 1160})  # about A4 at 96 dpi
                page.emulate_media(media="print")
                page.screenshot(
                    path=str(DOCS / "meeting-print.png"),
                    full_page=True,
                    clip=_down_to(page, "#rules"),
                )
                browser.close()
        api.db.dispose()
    for name in ("meeting-desktop.png", "meeting-print.png"):
        print(DOCS / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
