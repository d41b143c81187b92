"""Debian's chromium driven by selenium through chromium-driver (both installed by `make deps`).

Headless with a fresh profile per browser, no background networking, updates, sync or first
-run screens: the browser talks only to the test server on 127.0.0.1."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(f"none of {names} is installed; run `make deps` (Debian chromium and chromium-driver)")


@contextmanager
def chromium(width: int = 1100, height: int = 760) -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("chromium", "chromium-browser")
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=_binary("chromedriver")))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot_dir(default: Path) -> Path:
    """`RECONCILER_UI_SCREENSHOTS=docs/ui` makes the browser tests refresh the README's pictures."""
    target = Path(os.environ.get("RECONCILER_UI_SCREENSHOTS") or default)
    target.mkdir(parents=True, exist_ok=True)
    return target
