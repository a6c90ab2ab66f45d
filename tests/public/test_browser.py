"""The public pages in a real browser: Debian's headless Chromium driven by Selenium through
Debian's chromedriver (explicit paths, Selenium Manager offline: nothing is downloaded). A reader's
paths (search → result → item → source → back), the filters, the age switch remembered in a
cookie, keyboard-only use, and axe-core with no serious or critical violation on each page.

Without a browser the tests skip with the reason; under ``CI=true`` that is a failure
(``make test`` installs Chromium first, see the Makefile's ``browser`` step)."""

import os
import shutil
from pathlib import Path
from urllib.parse import urlencode

import pytest

from alexandria.embeddings import get_embedder
from alexandria.figures.services.indexing import index_embeddings
from tests.support.figures import embed, make_figure

CHROMIUM = Path(os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER_BINARY", "/usr/bin/chromedriver"))
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
QUESTION = "Does exercise improve sleep quality?"
WAIT_SECONDS = 30


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests are required; run `make browser`)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (the `dev` extra)")
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(str(p))]
    if missing:
        _unavailable(
            f"no browser: {', '.join(missing)} missing (apt-get install chromium chromium-driver)"
        )
    # Both paths are explicit, so Selenium Manager has nothing to find; offline it could not
    # download a driver or a browser even if it ran.
    previous = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1024",
    ):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    finally:
        if previous is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = previous
    driver.set_script_timeout(60)
    driver.set_page_load_timeout(WAIT_SECONDS * 2)
    yield driver
    driver.quit()


@pytest.fixture
def site(browser, live_server, store):
    """A fresh browser state on the live server's public pages: no cookies, and no cached page
    (pages are cacheable for a minute; an earlier test's page would link to its items)."""
    browser.delete_all_cookies()
    browser.execute_cdp_cmd("Network.clearBrowserCache", {})
    return Site(browser, live_server.url)


class Site:
    def __init__(self, driver, base_url: str):
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.base_url)

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def link(self, text: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.LINK_TEXT, text)

    def text(self) -> str:
        return self.find("body").text

    def wait_for(self, condition) -> None:
        """Wait until ``condition()`` holds. Chromium can answer a read made while it swaps
        pages with an inspector error ("Node with given id does not belong to the
        document"): that read is tried again, like a condition not met yet."""
        from selenium.common.exceptions import TimeoutException, WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            WebDriverWait(
                self.driver, WAIT_SECONDS, ignored_exceptions=(WebDriverException,)
            ).until(lambda _driver: condition())
        except TimeoutException:
            pytest.fail(f"timed out on {self.path}: {self.text()[:600]}")

    def submit(self, button_css: str) -> None:
        """Press a form's button and wait until the next page has replaced this one."""
        from selenium.webdriver.support.expected_conditions import staleness_of

        page = self.find("html")
        self.find(button_css).click()
        self.wait_for(lambda: staleness_of(page)(self.driver))

    def heading(self) -> str:
        return self.find("h1").text

    def press(self, *keys) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.driver).send_keys(*keys).perform()

    def focused(self):
        return self.driver.switch_to.active_element


def search(site: Site, question: str) -> None:
    box = site.find("#q")
    box.clear()
    box.send_keys(question)
    site.submit("form.search button[type=submit]")
    site.wait_for(lambda: site.find_all("article.answer") or site.find_all(".notice"))


def test_search_result_item_source_and_back(site, store):
    site.open("/")
    search(site, QUESTION)
    answers = site.find_all("article.answer h3 a")
    assert answers and answers[0].text == store.accepted.text
    assert store.contra.text in site.find("article.answer .contra").text
    answers[0].click()
    site.wait_for(lambda: site.path == f"/items/{store.accepted.pk}")
    assert site.heading() == store.accepted.text
    site.find("ol.citations a[href^='/sources/']").click()
    site.wait_for(lambda: site.path == f"/sources/{store.source.pk}")
    assert site.heading() == "Sleep and habits"
    assert store.source.sha256 in site.text()
    deep = site.find("td a[href*='#:~:text=']").get_attribute("href")
    assert deep.startswith("https://example.org/sleep#:~:text=")
    site.driver.back()
    site.wait_for(lambda: site.path == f"/items/{store.accepted.pk}")
    site.driver.back()
    site.wait_for(lambda: site.path.startswith("/?q="))
    assert site.find("#q").get_attribute("value") == QUESTION
    assert site.find("article.answer h3 a").text == store.accepted.text


def test_filters_narrow_and_widen_the_answers(site, store):
    from selenium.webdriver.support.ui import Select

    site.open("/")
    search(site, "caffeine in the evening")
    assert store.pending.text not in site.text()  # accepted only by default
    site.find("details.filters summary").click()
    Select(site.find("#min_status")).select_by_value("pending")
    site.submit("form.search button[type=submit]")
    site.wait_for(lambda: "min_status=pending" in site.path)
    assert store.pending.text in site.text()
    # The chosen filters stay visible and set on the results page.
    assert site.find("details.filters").get_attribute("open") is not None
    assert Select(site.find("#min_status")).first_selected_option.get_attribute("value") == (
        "pending"
    )
    site.find("#genre").send_keys("poetry")
    site.submit("form.search button[type=submit]")
    site.wait_for(lambda: "genre=poetry" in site.path)
    assert "No answer matched" in site.text() and "clear the filters" in site.text()
    site.find("#genre").clear()
    site.find("#genre").send_keys("health")
    site.submit("form.search button[type=submit]")
    site.wait_for(lambda: "genre=health" in site.path)
    assert store.pending.text in site.text()


def test_age_switch_is_remembered_across_pages(site, store):
    from selenium.webdriver.support.ui import Select

    site.open("/")
    search(site, "drinking before bed")
    assert store.adult.text not in site.text()
    Select(site.find("#age-switch")).select_by_value("18")
    site.submit("form.age button[type=submit]")
    site.wait_for(lambda: store.adult.text in site.text())
    assert site.path.startswith("/?q=drinking")  # back where the reader was
    assert site.driver.get_cookie("max_age_rating")["value"] == "18"
    site.open(f"/items/{store.adult.pk}")
    assert site.heading() == store.adult.text
    site.open("/browse")
    assert Select(site.find("#age-switch")).first_selected_option.get_attribute("value") == "18"
    Select(site.find("#age-switch")).select_by_value("12")
    site.submit("form.age button[type=submit]")
    site.wait_for(lambda: site.path == "/browse")
    site.open(f"/items/{store.adult.pk}")
    assert "rated 18" in site.heading()


def test_keyboard_only_search_and_follow_a_result(site, store):
    from selenium.webdriver.common.keys import Keys

    site.open("/")
    site.press(Keys.TAB)
    assert site.focused().text == "Skip to content"
    site.press(Keys.ENTER)
    site.press(Keys.TAB)
    assert site.focused().get_attribute("id") == "q"
    site.press(QUESTION, Keys.ENTER)
    site.wait_for(lambda: site.find_all("article.answer"))
    for _ in range(40):
        site.press(Keys.TAB)
        href = site.focused().get_attribute("href") or ""
        if "/items/" in href:
            break
    else:
        pytest.fail("Tab never reached a result link")
    assert site.focused().text == store.accepted.text
    site.press(Keys.ENTER)
    site.wait_for(lambda: site.path == f"/items/{store.accepted.pk}")
    assert site.heading() == store.accepted.text


AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]})
  .then(result => done(result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
  }))))
  .catch(error => done([{id: "axe-error", impact: "critical", help: String(error), nodes: []}]));
"""

PAGES = {
    "search": "/",
    "results": "/?q=Does+exercise+improve+sleep+quality%3F&min_status=pending",
    "empty": "/?q=Does+exercise+improve+sleep+quality%3F&genre=poetry",
    "invalid": "/?q=sleep&layer=zero",
    "item": "/items/{abstraction}",
    "source": "/sources/{source}",
    "browse": "/browse",
    "genre": "/browse/genres/health",
    "not-found": "/items/999999",
}


def serious_violations(site: Site) -> list[dict]:
    """axe-core's serious and critical findings on the open page (the page's CSP does not apply
    to WebDriver's scripts)."""
    site.driver.execute_script(AXE.read_text())
    violations = site.driver.execute_async_script(AXE_RUN)
    return [v for v in violations if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("page", PAGES)
def test_no_serious_accessibility_violations(site, store, page):
    site.open(PAGES[page].format(abstraction=store.abstraction.pk, source=store.source.pk))
    assert site.find("main h1").text
    assert serious_violations(site) == []


@pytest.fixture
def figures(store, tiny_clip):
    """Two figures of the store's source (one without a caption), embedded by the server's
    tiny CLIP model so that the question finds them."""
    source = store.source
    shown = [
        make_figure(source, "Caffeine in the evening delays sleep onset", index=0, page=1),
        make_figure(source, "", index=1, page=None),
    ]
    vector = get_embedder("clip").embed_texts([QUESTION])[0]
    index_embeddings([embed(figure, vector).pk for figure in shown])
    return shown


def test_figures_show_captions_pages_and_no_serious_accessibility_violation(site, figures):
    site.open("/?" + urlencode({"q": QUESTION}))
    section = site.find("section.figures")
    assert section.find_element("css selector", "h2").text == "Figures"
    assert figures[0].caption_anchor.fragment in section.text
    assert "page 1, figure 1" in section.text and "figure 2" in section.text
    assert "No caption was found" in section.text
    assert site.find_all("section.figures img") == []
    assert serious_violations(site) == []


def test_the_accessibility_check_finds_a_planted_violation(site):
    site.open("/")
    site.driver.execute_script(
        "const main = document.querySelector('main');"
        "main.insertAdjacentHTML('beforeend', '<img src=\"/static/public/site.css\">');"
        "document.querySelector('#q').labels[0].remove();"
    )
    found = {v["id"] for v in serious_violations(site)}
    assert {"image-alt", "label"} <= found
