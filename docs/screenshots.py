"""Take the screenshots of ``docs/ui.md`` in a headless Chromium.

Makes a store of a few runs of ``tests/flows/ui_flow.py`` in a temporary folder (one still
running, held at its gate), serves ``tideflow ui`` on it and saves the main pages as PNG
files in ``docs/images/``. Needs the test dependencies and Debian's ``chromium``::

    .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

HERE = Path(__file__).resolve().parent
FLOW = HERE.parent / "tests" / "flows" / "ui_flow.py"
IMAGES = HERE / "images"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def run(root: Path, *args: str, wait: bool = True) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TIDEFLOW_USER": os.environ.get("TIDEFLOW_USER", "ada")}
    command = [sys.executable, str(FLOW), "--root", str(root), "run", *args]
    process = subprocess.Popen(command, cwd=root.parent, env=env, stdout=subprocess.DEVNULL)
    if wait:
        process.wait()
    return process


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / ".tideflow"
        run(root, "--count", "4", "--tag", "baseline")
        run(root, "--count", "6", "--tag", "wider")
        run(root, "--count", "2", "--fail")
        run(root, "--count", "8", "--tag", "wider", "--run-id-file", str(root.parent / "id"))
        gate = root.parent / "gate"
        live = run(root, "--count", "12", "--gate", str(gate), wait=False)
        server = subprocess.Popen(
            [sys.executable, "-m", "tideflow", "ui", "--root", str(root), "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        url = re.search(r"on (http://\S+) ", server.stdout.readline()).group(1)  # type: ignore[union-attr]
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=ARGS
                )
                page = browser.new_page(viewport={"width": 1100, "height": 640})
                page.goto(f"{url}/flows/UiFlow")
                time.sleep(0.5)
                page.screenshot(path=IMAGES / "ui-runs.png")
                page.locator("#runs tbody a").first.click()
                expect(page.locator('#graph g[data-step="report"]')).to_have_class(
                    re.compile("state-running"), timeout=30_000
                )
                page.screenshot(path=IMAGES / "ui-run.png")
                href = page.locator("#step-report a.task").first.get_attribute("href")
                page.goto(url + str(href))
                expect(page.locator("#log-stdout")).to_contain_text("total", timeout=30_000)
                gate.write_text("go")
                live.wait()
                page.goto(url + str(href))
                expect(page.locator("#log-stdout")).to_contain_text("done", timeout=30_000)
                page.screenshot(path=IMAGES / "ui-task.png", full_page=True)
                runs = [
                    a.inner_text()
                    for a in page.goto(f"{url}/flows/UiFlow")
                    and page.locator("#runs tbody a[href^='/runs/']").all()
                ]
                page.goto(f"{url}/flows/UiFlow/compare?a={runs[1]}&b={runs[4]}")
                page.screenshot(path=IMAGES / "ui-compare.png")
                browser.close()
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=20)
            if live.poll() is None:
                live.kill()


if __name__ == "__main__":
    main()
