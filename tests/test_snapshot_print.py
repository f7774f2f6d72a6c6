"""The print-ready page printed by headless Chromium: paper size and orientation from CSS @page."""
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None or shutil.which("pdfinfo") is None,
                                reason="chromium or poppler-utils not installed (scripts/system-deps.sh)")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
HOUJIE = "510322100031"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def print_to_pdf(browser, html: str) -> bytes:
    """Print the page as the browser's print dialog would (the page's own @page size)."""
    page = browser.new_page()
    outside = []
    page.route("**/*", lambda r: (outside.append(r.request.url), r.abort()))  # the page needs nothing else
    page.set_content(html, wait_until="load")
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    page.close()
    assert outside == []
    return pdf


def pdfinfo(pdf: bytes) -> dict:
    out = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return dict((k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line))


@pytest.mark.parametrize("paper, orientation, size", [
    ("A4", "landscape", (842, 595)), ("A4", "portrait", (595, 842)),
    ("A3", "landscape", (1191, 842)), ("A3", "portrait", (842, 1191)),
])
def test_browser_prints_the_chosen_paper(client, browser, paper, orientation, size):
    html = client.get(f"/snapshot/community/{HOUJIE}?paper={paper}&orientation={orientation}").get_data(as_text=True)
    pdf = print_to_pdf(browser, html)
    info = pdfinfo(pdf)
    w, _, h = info["Page size"].split()[:3]
    assert (round(float(w)), round(float(h))) == size
    pages = int(info["Pages"])
    assert 2 <= pages <= 3  # the first page (map and figures), then the open problems
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-", "-"], input=pdf, capture_output=True,
                           check=True).stdout.decode()
    assert "后街社区" in first and "工作进度" in first and "对照发布数据" in first
    last = subprocess.run(["pdftotext", "-f", str(pages), "-l", str(pages), "-", "-"], input=pdf,
                          capture_output=True, check=True).stdout.decode()
    assert "未结案问题清单" in last or "说明" in last


def test_screen_view_has_a_toolbar_that_does_not_print(client, browser):
    html = client.get(f"/snapshot/community/{HOUJIE}").get_data(as_text=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_content(html, wait_until="load")
    assert page.locator("nav.toolbar").is_visible()
    assert page.locator(".map img").evaluate("img => img.naturalWidth > 500 && img.complete")
    page.emulate_media(media="print")
    assert not page.locator("nav.toolbar").is_visible()
    page.close()
