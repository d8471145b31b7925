"""Fixtures for the browser tests: a real `parley dev --model synthetic`, Debian's headless chromium
driven by Selenium, and a screenshot per test (helpers in web_support.py).

The parley binary is $PARLEY_BIN (default .build/debug/parley). $PARLEY_BROWSER_URL (with
$PARLEY_TEST_API_KEY) points the tests at a gateway that already runs instead (debugging).
Screenshots go to $PARLEY_SCREENSHOTS (default /tmp/parley-screenshots).
"""

import concurrent.futures
import os
import shutil
import sys

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import running_parley_dev  # noqa: E402
from web_support import API, API_KEY, SCREENSHOTS, Page  # noqa: E402

# 64 tokens (the synthetic model's default answer) at 16 tokens/s take 4 s: slow enough to stop,
# reload and watch an answer grow, fast enough for a short suite.
TOKENS_PER_SECOND = 16
DEV_ARGS = ["--model", "synthetic", "--synthetic-ttft", "100", "--synthetic-tps", str(TOKENS_PER_SECOND),
            "--rate-limit", "1000"]
CHROMIUM = os.environ.get("CHROMIUM_BIN", shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", shutil.which("chromedriver") or "/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def gateway():
    if os.environ.get("PARLEY_BROWSER_URL"):
        yield os.environ["PARLEY_BROWSER_URL"].rstrip("/")
        return
    with running_parley_dev(API_KEY, *DEV_ARGS, prefix="parley-browser-") as url:
        yield url


@pytest.fixture(scope="session")
def api(gateway):
    return API(gateway)


@pytest.fixture(scope="session")
def driver():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,860", "--lang=en-US", "--force-prefers-reduced-motion"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def page(driver, gateway, api, request):
    """A fresh page (no stored key, no saved stream); its screenshot is saved at the end."""
    driver.get(gateway + "/")
    driver.execute_script("localStorage.clear(); sessionStorage.clear();")
    driver.get_log("browser")  # drop what earlier tests left
    current = Page(driver, gateway, api, request.node.name)
    try:
        yield current
    finally:
        current.screenshot()
        errors = current.script_errors()
        driver.get("about:blank")
        assert not errors, f"script errors in the page: {errors}"


@pytest.fixture
def background():
    """Runs slow API calls (whole synthetic answers) while the browser works; `.result()` waits."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


@pytest.fixture
def signed_in(page):
    page.sign_in()
    return page


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"browser test screenshots: {SCREENSHOTS}")
