"""Headless Chromium for the explorer's browser test and ``make screenshot``.

Debian's ``chromium`` driven by Debian's ``chromedriver`` (the two are built together, so their
versions always match) through selenium. Both paths are given explicitly, so selenium never
looks for, or downloads, a driver or a browser of its own. ``make tools`` installs the packages.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver as ChromeDriver

PAGE_LOAD_TIMEOUT_S = 60
WINDOW = (1280, 1400)


class BrowserMissing(RuntimeError):
    """chromium or chromedriver is not installed (``make tools`` installs them)."""


def find_browser() -> tuple[str, str]:
    """(chromium, chromedriver) executables, or :class:`BrowserMissing`."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        raise BrowserMissing(
            "Debian's chromium and chromium-driver are needed: run `make tools` (as root)"
        )
    return browser, driver


@contextmanager
def headless_chromium(window: tuple[int, int] = WINDOW) -> Iterator[ChromeDriver]:
    """A fresh headless browser (own profile), quit on exit; console messages are kept."""
    browser, driver_path = find_browser()
    options = Options()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={window[0]},{window[1]}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
        yield driver
    finally:
        driver.quit()


def get_console_errors(driver: ChromeDriver) -> list[dict[str, Any]]:
    """The page's console errors so far: script errors, failed loads, CSP violations."""
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry for entry in entries if entry.get("level") == "SEVERE"]


def save_full_page_screenshot(driver: ChromeDriver, path: Path) -> None:
    """The whole page, however tall (a plain screenshot stops at the window's bottom)."""
    width, height = driver.execute_script(
        "const e = document.documentElement; return [e.scrollWidth, e.scrollHeight];"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
