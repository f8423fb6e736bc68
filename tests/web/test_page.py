"""What a person does on ``GET /``, in a real browser: pick a pipeline, upload a two-page form, watch
it go page by page, read what was drawn on each page; and a file that is no document."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from form_pages import CHECKBOX_QUESTION, membership_form
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from docserve.export.documents.generator import GeneratedPage, generate_page

PIPELINE = "document_full"
JOB_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def signed_forms() -> list[GeneratedPage]:
    """Two synthetic application forms, each signed and with at least one ticked box."""
    found = []
    for seed in range(20_000_000, 20_000_400):
        page = generate_page(seed)
        truth = page.truth
        if (truth.document_type == "application_form" and truth.signature.present
                and any(box.checked for box in truth.checkboxes)):
            found.append(page)
            if len(found) == 2:
                return found
    raise AssertionError("the generator made fewer than two signed forms with ticked boxes")


@pytest.fixture(scope="module")
def form_pdf(signed_forms, tmp_path_factory) -> Path:
    images = [Image.fromarray(page.image) for page in signed_forms]
    path = tmp_path_factory.mktemp("web_documents") / "signed-forms.pdf"
    images[0].save(path, format="PDF", save_all=True, append_images=images[1:], resolution=150)
    return path


def _wait(driver: WebDriver, timeout: float = 30) -> WebDriverWait:
    return WebDriverWait(driver, timeout, poll_frequency=0.1)


def _open(driver: WebDriver, gateway: str) -> None:
    driver.set_window_size(1400, 1000)
    driver.get(f"{gateway}/")
    _wait(driver).until(lambda d: PIPELINE in d.execute_script(  # read at once: the list is rebuilt
        "return [...document.querySelectorAll('#pipeline option')].map(option => option.value)"))


def _full_page_screenshot(driver: WebDriver, path: Path, width: int = 1400) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 120, 600), 6000))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(path))


def _progress_log(driver: WebDriver) -> list[tuple[str, str, str]]:
    entries = driver.execute_script(
        "return [...document.querySelectorAll('#progress-log li')]"
        ".map(item => [item.dataset.status, item.dataset.done, item.dataset.total])")
    return [tuple(entry) for entry in entries]


def test_a_signed_two_page_form_is_followed_page_by_page_and_drawn(browser, web_gateway, form_pdf, artefacts):
    _open(browser, web_gateway)
    Select(browser.find_element(By.ID, "pipeline")).select_by_value(PIPELINE)
    assert "checkboxes" in browser.find_element(By.ID, "pipeline-description").text
    browser.find_element(By.ID, "file").send_keys(str(form_pdf))
    assert "signed-forms.pdf" in browser.find_element(By.ID, "file-name").text
    browser.save_screenshot(str(artefacts / "1-form-filled.png"))
    browser.find_element(By.ID, "analyse").send_keys(Keys.ENTER)  # the keyboard's way to submit

    _wait(browser, JOB_TIMEOUT_S).until(ready.presence_of_element_located((By.ID, "page-1")))
    if not browser.find_elements(By.ID, "page-2"):  # page 1 drawn while page 2 is analysed
        assert not browser.find_element(By.ID, "download").is_displayed()  # no result yet
        browser.save_screenshot(str(artefacts / "2-page-1-of-2.png"))
    _wait(browser, JOB_TIMEOUT_S).until(
        lambda d: ("succeeded", "2", "2") in _progress_log(d) or ("failed" in str(_progress_log(d))))
    log = _progress_log(browser)
    assert ("succeeded", "2", "2") in log, log
    assert log.index(("processing", "1", "2")) < log.index(("succeeded", "2", "2")), log
    assert "2 of 2" in browser.find_element(By.ID, "status-text").text

    job_id = browser.find_element(By.ID, "job-id").text
    job = httpx.get(f"{web_gateway}/api/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded" and job["progress"] == {"pages_total": 2, "pages_done": 2}
    for entry in job["result"]["pages"]:
        result, page = entry["result"], browser.find_element(By.ID, f"page-{entry['page']}")
        assert len(page.find_elements(By.CSS_SELECTOR, "svg .mark.line")) == len(result["text"]["lines"]) > 5
        assert len(page.find_elements(By.CSS_SELECTOR, ".lines li")) == len(result["text"]["lines"])
        boxes = result["checkboxes"]["items"]
        assert len(page.find_elements(By.CSS_SELECTOR, "svg .mark.checkbox")) == len(boxes) > 0
        ticked = sum(box["checked"] for box in boxes)
        assert len(page.find_elements(By.CSS_SELECTOR, "svg .mark.checked")) == ticked
        signature = result["signature"]
        assert len(page.find_elements(By.CSS_SELECTOR, "svg .mark.signature")) == int(signature["present"])
        assert len(page.find_elements(By.CSS_SELECTOR, ".boxes li")) == len(boxes)  # the signature apart
        assert len(page.find_elements(By.CSS_SELECTOR, ".signature-entry li")) == int(signature["present"])
        doc_type = result["document_type"]
        assert page.find_element(By.CSS_SELECTOR, ".doc-type").text.startswith(doc_type["label"])
        assert page.find_element(By.CSS_SELECTOR, ".skew").text.endswith("°")
        assert page.find_element(By.CSS_SELECTOR, ".orientation").text.startswith(
            f"{result['orientation']['degrees']}°")
        image = page.find_element(By.TAG_NAME, "img")
        _wait(browser).until(lambda d, image=image: image.get_attribute("data-loaded") == "true")
        natural = browser.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]",
                                         image)
        assert natural == [result["page"]["width"], result["page"]["height"]]

    first_page = browser.find_element(By.ID, "page-1")
    first_line = job["result"]["pages"][0]["result"]["text"]["lines"][0]
    first_page.find_element(By.CSS_SELECTOR, ".lines li button").send_keys(Keys.SPACE)  # focus + press
    caption = first_page.find_element(By.CSS_SELECTOR, ".selection").text
    assert first_line["text"] in caption and f"{first_line['confidence'] * 100:.1f}%" in caption
    assert len(first_page.find_elements(By.CSS_SELECTOR, "svg .mark.line.selected")) == 1
    first_page.find_element(By.CSS_SELECTOR, "svg .mark.checkbox").click()  # pointing at a box
    assert "Checkbox 1:" in first_page.find_element(By.CSS_SELECTOR, ".selection").text
    download = browser.find_element(By.ID, "download")
    assert download.is_displayed() and download.get_attribute("href").startswith("blob:")
    assert download.get_attribute("download") == f"{job_id}.json"
    _full_page_screenshot(browser, artefacts / "3-done-wide.png")
    first_page.screenshot(str(artefacts / "4-page-1-drawn.png"))

    browser.set_window_size(390, 900)  # a phone: one column, nothing wider than the screen
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1
    _full_page_screenshot(browser, artefacts / "5-done-narrow.png", width=390)
    assert _policy_violations(browser) == []  # all of it ran under the page's Content-Security-Policy


@pytest.fixture(scope="module")
def membership_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("web_forms") / "membership.png"
    Image.fromarray(membership_form().image).save(path)
    return path


def test_a_forms_fields_are_a_table_each_row_outlining_its_key_and_value(
        browser, web_gateway, membership_png, artefacts):
    _open(browser, web_gateway)
    Select(browser.find_element(By.ID, "pipeline")).select_by_value("form_fields")
    browser.find_element(By.ID, "file").send_keys(str(membership_png))
    browser.find_element(By.ID, "analyse").click()
    _wait(browser, JOB_TIMEOUT_S).until(lambda d: d.find_element(By.ID, "download-fields").is_displayed())
    job_id = browser.find_element(By.ID, "job-id").text
    job = httpx.get(f"{web_gateway}/api/v1/jobs/{job_id}").json()
    pairs = job["result"]["pages"][0]["result"]["key_values"]
    page = browser.find_element(By.ID, "page-1")
    rows = page.find_elements(By.CSS_SELECTOR, ".fields tbody tr")
    keys = [row.find_element(By.TAG_NAME, "th").text for row in rows]
    assert keys == [pair["key"]["text"] for pair in pairs]
    assert len(page.find_elements(By.CSS_SELECTOR, "svg .mark.pair")) == len(pairs)
    values = {row.find_element(By.TAG_NAME, "th").text: row.find_element(By.CSS_SELECTOR, "td.value").text
              for row in rows}
    assert values[CHECKBOX_QUESTION] == "☐ single ☑ married ☐ widowed"
    assert values["Phone:"] == "(empty)" and values["Name:"] == "John Smith"
    row = next(row for row in rows if row.find_element(By.TAG_NAME, "th").text == CHECKBOX_QUESTION)
    row.find_element(By.TAG_NAME, "button").send_keys(Keys.SPACE)  # keyboard: focus + press
    assert f"{CHECKBOX_QUESTION} → married" in page.find_element(By.CSS_SELECTOR, ".selection").text
    selected = page.find_elements(By.CSS_SELECTOR, "svg .mark.pair.selected")
    assert len(selected) == 1 and len(selected[0].find_elements(By.CSS_SELECTOR, ".pair-option")) == 3
    assert selected[0].find_elements(By.CSS_SELECTOR, ".pair-link")  # key -> value drawn
    download = browser.find_element(By.ID, "download-fields")
    assert download.get_attribute("href").startswith("blob:")
    assert download.get_attribute("download") == f"{job_id}-fields.csv"
    page.screenshot(str(artefacts / "6-fields.png"))
    table = httpx.get(f"{web_gateway}/api/v1/jobs/{job_id}/fields.csv")
    assert table.headers["content-type"].startswith("text/csv")
    lines = table.text.splitlines()
    assert lines[0] == "page,key,value,kind,confidence" and len(lines) == len(pairs) + 1
    assert any(line.startswith(f"1,{CHECKBOX_QUESTION},married,checkbox,") for line in lines)
    assert _policy_violations(browser) == []


def _policy_violations(driver: WebDriver) -> list[str]:
    """What the browser's console reported blocked by the Content-Security-Policy so far."""
    return [entry["message"] for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"]]


def test_a_file_that_is_no_document_shows_the_apis_error_code(browser, web_gateway, tmp_path, artefacts):
    notes = tmp_path / "notes.txt"
    notes.write_text("a shopping list, not a scan\n")
    answer = httpx.post(f"{web_gateway}/api/v1/jobs", files={"document": ("notes.txt", notes.read_bytes())},
                        data={"request_id": "direct-notes", "pipeline": PIPELINE})
    expected = answer.json()["error"]
    _open(browser, web_gateway)
    browser.execute_script(  # a file dropped on the drop zone (WebDriver cannot drag from the desktop)
        "const files = new DataTransfer();"
        "files.items.add(new File([arguments[0]], 'notes.txt', {type: 'text/plain'}));"
        "document.getElementById('drop-zone').dispatchEvent("
        "  new DragEvent('drop', {dataTransfer: files, bubbles: true, cancelable: true}));",
        notes.read_text())
    assert "notes.txt" in browser.find_element(By.ID, "file-name").text
    focused = []
    for _ in range(12):  # keyboard only: Tab through the form to the button, Enter submits
        ActionChains(browser).send_keys(Keys.TAB).perform()
        focused.append(browser.switch_to.active_element.get_attribute("id"))
        if focused[-1] == "analyse":
            break
    assert {"pipeline", "file", "location", "analyse"} <= set(focused), focused
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    error = _wait(browser).until(ready.visibility_of_element_located((By.ID, "error")))
    assert browser.find_element(By.ID, "error-code").text == expected["code"] == "unsupported_document"
    assert browser.find_element(By.ID, "error-message").text == expected["message"]
    assert browser.find_element(By.ID, "job").is_displayed() is False  # no job was made
    error.screenshot(str(artefacts / "6-error-banner.png"))
    _full_page_screenshot(browser, artefacts / "6-error.png")


def test_the_page_is_light_and_needs_nothing_from_elsewhere(web_gateway):
    page = httpx.get(f"{web_gateway}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = [httpx.get(f"{web_gateway}/static/{name}") for name in ("app.js", "app.css")]
    assert all(asset.status_code == 200 for asset in assets)
    for text in (page.text, *(asset.text for asset in assets)):
        assert not _ELSEWHERE.search(text), _ELSEWHERE.search(text)
    weight = len(page.content) + sum(len(asset.content) for asset in assets)
    assert weight < 100_000, weight  # the whole page, uncompressed


# What would load something from another host: an absolute src/href, a CSS url() or import, a fetch.
_ELSEWHERE = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//"""
                        r"""|@import|fetch\(\s*["'`]https?:""")
