"""The UI in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

A run started during the test shows up, its graph turns green step by step while the page
stays loaded, a line the task prints appears in the log view, an artifact's preview and
download work, and a failed task shows its exception. Nothing here downloads a browser:
Playwright uses ``/usr/bin/chromium``. Without it the tests are skipped, except under CI
(``CI`` set), where its absence is a failure.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import FLOW, run_flow
from .server import running_ui

CHROMIUM = "/usr/bin/chromium"
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
#: Generous: the machine running the tests may be busy. No assertion depends on timing.
WAIT_MS = 20_000


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (it is in the test group: pip install playwright)"
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return "Chromium is not installed (apt-get install chromium)"
    return None


def _require_browser() -> None:
    problem = _missing()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem}; CI must have it for the browser tests of the UI")
    pytest.skip(problem)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    _require_browser()
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / ".tideflow"


def _start_run(root: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    id_file = root.parent / "live-run-id"
    process = subprocess.Popen(
        [sys.executable, str(FLOW), "--root", str(root), "run", "--run-id-file", str(id_file)]
        + list(args),
        cwd=root.parent,
        env={**os.environ, "TIDEFLOW_USER": "tester"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, id_file


def _wait_file(path: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + WAIT_MS / 1000
    while not path.exists() or not path.read_text():
        assert process.poll() is None, "the run ended before writing its id"
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.05)
    return path.read_text()


def _node(page: object, step: str) -> object:
    return page.locator(f'#graph g[data-step="{step}"]')  # type: ignore[attr-defined]


def test_a_live_run_in_the_browser(browser: object, store: Path, tmp_path: Path) -> None:
    """The run shows up; its graph and its log follow it without a reload."""
    from playwright.sync_api import expect

    store.mkdir(parents=True)
    gate = tmp_path / "gate"
    with running_ui(store) as url:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(url + "/")
        expect(page.locator(".empty")).to_contain_text("No runs in this store yet")
        process, id_file = _start_run(store, "--count", "3", "--gate", str(gate))
        try:
            run_id = _wait_file(id_file, process)
            page.reload()
            page.click("text=UiFlow")
            row = page.locator(f'tr[data-run="{run_id}"]')
            expect(row).to_be_visible()
            row.locator("a").first.click()
            expect(page.locator("#run-status")).to_have_text("running")
            page.evaluate("window.stillTheSamePage = true")
            # Step by step: the steps before the gate turn green, report runs, end waits.
            for step in ("start", "body", "join"):
                expect(_node(page, step)).to_have_class(
                    re.compile("state-succeeded"), timeout=WAIT_MS
                )
            expect(_node(page, "report")).to_have_class(
                re.compile("state-running"), timeout=WAIT_MS
            )
            expect(_node(page, "end")).to_have_class(re.compile("state-waiting"))
            expect(_node(page, "body")).to_contain_text("3/3 done")

            logs = browser.new_page()  # type: ignore[attr-defined]
            logs.goto(url + page.locator("#step-report a.task").first.get_attribute("href"))
            stdout = logs.locator("#log-stdout")
            expect(stdout).to_contain_text("report: the total is 5", timeout=WAIT_MS)
            gate.write_text("go")
            # A line printed now appears in the open log view (well within a second on an
            # idle machine; the wait is generous for a busy one).
            expect(stdout).to_contain_text("report: done", timeout=WAIT_MS)

            expect(_node(page, "end")).to_have_class(
                re.compile("state-succeeded"), timeout=WAIT_MS
            )
            expect(page.locator("#run-status")).to_have_text("succeeded", timeout=WAIT_MS)
            assert page.evaluate("window.stillTheSamePage") is True
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_artifacts_and_a_failed_task(browser: object, store: Path, tmp_path: Path) -> None:
    """An artifact's preview and its download; a failed task's exception."""
    from playwright.sync_api import expect

    good = run_flow(store, "--count", "4")
    bad = run_flow(store, "--count", "2", "--fail")
    with running_ui(store) as url:
        page = browser.new_page(accept_downloads=True)  # type: ignore[attr-defined]
        page.goto(f"{url}/runs/UiFlow/{good}")
        page.locator("#step-join a.task").first.click()
        total = page.locator('tr[data-artifact="total"]')
        expect(total.locator("code.preview")).to_have_text("14")  # 0 + 1 + 4 + 9
        expect(page.locator('tr[data-artifact="blob"]')).to_contain_text("too large to preview")
        with page.expect_download() as info:
            total.locator("a.download").click()
        download = info.value
        assert download.suggested_filename == "total.pickle"
        assert pickle.loads(Path(download.path()).read_bytes()) == 14

        page.goto(f"{url}/flows/UiFlow")
        page.check(f'input.pick[value="{good}"]')
        page.check(f'input.pick[value="{bad}"]')
        page.click("#compare")
        differences = page.locator("#differences")
        expect(differences).to_contain_text("count")
        expect(differences.locator("tr", has_text="total")).to_contain_text("14")

        page.goto(f"{url}/runs/UiFlow/{bad}")
        expect(_node(page, "report")).to_have_class(re.compile("state-failed"))
        page.locator("#step-report a.task").first.click()
        expect(page.locator("#exception")).to_contain_text("ValueError")
        expect(page.locator("#exception")).to_contain_text("the report failed on purpose")
        expect(page.locator("#task-status")).to_have_text("failed")


def test_cards_follow_a_running_task(browser: object, store: Path, tmp_path: Path) -> None:
    """A running task's page shows its cards in sandboxed frames, and a card the task
    refreshes is reloaded in place while the page stays loaded."""
    from playwright.sync_api import expect

    gate = tmp_path / "gate"
    gate.mkdir()
    id_file = tmp_path / "card-run-id"
    flow = FLOW.with_name("card_flow.py")
    process = subprocess.Popen(
        [sys.executable, str(flow), "--root", str(store), "run", "--run-id-file", str(id_file)],
        cwd=tmp_path,
        env={**os.environ, "TIDEFLOW_USER": "tester", "CARD_GATE": str(gate), "CARD_HOLD": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run_id = _wait_file(id_file, process)
        _wait_file(gate / "refreshed", process)
        with running_ui(store) as url:
            page = browser.new_page()  # type: ignore[attr-defined]
            page.goto(f"{url}/runs/CardFlow/{run_id}/start/1")
            expect(page.locator("#task-status")).to_have_text("running")
            progress = page.frame_locator('figure[data-card="01-blank-progress.html"] iframe')
            expect(progress.locator("progress")).to_have_attribute("value", "0")
            assert page.locator('figure[data-card="00-default.html"]').count() == 0
            page.evaluate("window.stillTheSamePage = true")
            (gate / "go").write_text("go")
            _wait_file(gate / "updated", process)
            expect(progress.locator("progress")).to_have_attribute("value", "10", timeout=WAIT_MS)
            assert page.evaluate("window.stillTheSamePage") is True
            (gate / "finish").write_text("finish")
            assert process.wait(timeout=60) == 0
            # The task ended: the page reloads and shows every card as stored at the end.
            report = page.frame_locator('figure[data-card="00-default.html"] iframe')
            expect(report.get_by_role("heading", name="Report", exact=True)).to_be_visible(
                timeout=WAIT_MS
            )
            assert page.locator("figure.card iframe").first.get_attribute("sandbox") == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
