"""A headless Chromium (Debian's, driven by Selenium) that opens viewer pages: for the browser
tests, the benchmark and screenshots. Needs `apt-get install chromium chromium-driver` and
the `dev` extra (selenium)."""

from __future__ import annotations

import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from attnviz.errors import AttnvizError

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@contextmanager
def headless_chromium(width: int = 1500, height: int = 1000):
    """A Selenium driver of a fresh headless Chromium (its own profile folder, removed after),
    keeping the console log."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        raise AttnvizError(
            f"{missing[0]} is missing; install it with apt-get install chromium chromium-driver"
        )
    profile = tempfile.mkdtemp(prefix="attnviz-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver, page: str | Path, timeout: float = 30.0) -> float:
    """Open a viewer page from file:// and wait for its first paint; return the time from
    navigation to the first paint, in seconds (the page's own clock)."""
    driver.get(Path(page).resolve().as_uri())
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready = driver.execute_script("return window.attnviz ? window.attnviz.ready : 0")
        if ready:
            return ready / 1000
        time.sleep(0.02)
    raise AttnvizError(f"the viewer {page} did not paint within {timeout:g} s")


def console_errors(driver) -> list[str]:
    """The page's console messages of level SEVERE since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def hover(driver, x: float, y: float) -> None:
    """Move the mouse to (x, y) in the window (CSS pixels), as a user does."""
    from selenium.webdriver.common.action_chains import ActionChains

    actions = ActionChains(driver)
    actions.w3c_actions.pointer_action.move_to_location(int(round(x)), int(round(y)))
    actions.perform()
