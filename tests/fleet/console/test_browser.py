"""The fleet console end to end in a real headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by Selenium): a simulated shift's dispatcher serves it on real
uvicorn on 127.0.0.1, its journal a real SQLite file. Sign in, see the trucks move on the
map, close a lane by clicking it and see it marked, see a refused closure say why,
acknowledge an alarm; a screenshot of the page is saved in the test's folder."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_rig import PASSWORDS, operators_file

from fleet.journal import Journal
from sim.console_shift import ConsoleShift
from sim.scenario import load

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "Debian's chromium and chromium-driver are not installed (.ci/run installs them: "
        "apt-get install -y chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

LANE = "drive05-01"
"""A one-way driving lane between blocks: closing it cuts nobody off."""
CUTTER = "apron-b-01"
"""An apron lane whose closure would cut a quay crane off."""
WAIT_S = 60.0


@pytest.fixture
def shift(tmp_path: Path) -> Iterator[ConsoleShift]:
    ops = operators_file(tmp_path / "operators.json")
    sc = load(None).with_(hours=1.0)
    cs = ConsoleShift(sc, tmp_path / "journal.db", "127.0.0.1", 0, speed=4.0, operators=ops)
    ready = threading.Event()
    runner = threading.Thread(target=cs.run, kwargs={"on_ready": lambda _url: ready.set()})
    runner.start()
    assert ready.wait(WAIT_S), "the console did not come up"
    yield cs
    cs.stop()
    runner.join(WAIT_S)
    assert not runner.is_alive()


@pytest.fixture
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1920,1080",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    metrics = {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # a 1080p screen
    try:
        yield driver
    finally:
        driver.quit()


def wait(browser: Any, what: Any, message: str) -> Any:
    """Poll `what` until it holds (an element redrawn between finding and reading it, as the
    page redraws every second, is looked for again)."""
    poll = WebDriverWait(
        browser, WAIT_S, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    )
    return poll.until(what, message)


def positions(browser: Any) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = browser.execute_script(
        "const o = {}; for (const g of document.querySelectorAll('g.truck'))"
        " o[g.dataset.truck] = [g.dataset.x, g.dataset.y]; return o;"
    )
    return {k: (v[0], v[1]) for k, v in out.items()}


def moving_truck(browser: Any) -> str | None:
    """A truck driving to its pickup with an order whose route has a horizon, if any."""
    truck: str | None = browser.execute_script(
        "const s = window.__snap; if (!s) return null;"
        " const t = s.trucks.find(t => t.route && t.state === 'to_pickup' && t.speed_kmh > 0"
        " && t.route.released < t.route.lanes.length); return t ? t.id : null;"
    )
    return truck


def row(browser: Any, truck: str) -> str:
    """The truck's line in the fleet table."""
    text: str = browser.find_element(By.CSS_SELECTOR, f'#fleet tr[data-truck="{truck}"]').text
    return text


def click_lane(browser: Any, lane: str) -> None:
    """Click the lane on the map (beside its middle if a truck stands on the middle)."""
    hit = browser.find_element(By.CSS_SELECTOR, f'.hit[data-lane="{lane}"]')
    for dx in (0, -70, 70, -35, 35):
        ActionChains(browser).move_to_element_with_offset(hit, dx, 0).click().perform()
        if browser.find_element(By.ID, "sel-title").text == f"Lane {lane}":
            return
    raise AssertionError(f"clicking lane {lane} did not select it")


def sign_in(browser: Any, name: str) -> None:
    wait(browser, lambda b: b.find_element(By.ID, "login-name").is_displayed(), "no sign-in")
    browser.find_element(By.ID, "login-name").send_keys(name)
    browser.find_element(By.ID, "login-password").send_keys(PASSWORDS[name])
    browser.find_element(By.ID, "login-submit").click()


def test_a_dispatcher_watches_the_yard_and_closes_a_lane(
    shift: ConsoleShift, browser: Any, tmp_path: Path
) -> None:
    browser.get(shift.url)
    sign_in(browser, "dana")
    wait(browser, lambda b: len(positions(b)) == 32, "the 32 trucks never showed on the map")
    wait(browser, lambda b: b.find_element(By.ID, "feed").text == "live", "the feed is down")
    before = positions(browser)
    wait(
        browser,
        lambda b: sum(positions(b)[t] != before[t] for t in before) >= 3,
        "the trucks did not move on the map",
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")
    assert len(rows) == 32

    click_lane(browser, LANE)
    browser.find_element(By.ID, "lane-reason").send_keys("container spill")
    browser.find_element(By.ID, "close-lane").click()
    result = wait(
        browser,
        lambda b: (
            b.find_element(By.ID, "action-result").text.startswith(("✓", "✗"))
            and b.find_element(By.ID, "action-result").text
        ),
        "no word on the closure",
    )
    assert result == f"✓ lane {LANE} closed"
    wait(
        browser,
        lambda b: b.find_elements(By.CSS_SELECTOR, f'.closed-lane[data-lane="{LANE}"]'),
        "the closed lane is not marked on the map",
    )

    click_lane(browser, CUTTER)
    browser.find_element(By.ID, "close-lane").click()
    refused = wait(
        browser,
        lambda b: (
            "refused" in b.find_element(By.ID, "action-result").text
            and b.find_element(By.ID, "action-result").text
        ),
        "no word on the refused closure",
    )
    assert f"closing lane {CUTTER} would cut QC" in refused

    ack = wait(
        browser,
        lambda b: b.find_elements(By.CSS_SELECTOR, "#alarms button.ack"),
        "no alarm to acknowledge",
    )
    alarm_id = ack[0].find_element(By.XPATH, "..").get_attribute("data-alarm")
    ack[0].click()
    wait(
        browser,
        lambda b: b.find_elements(By.CSS_SELECTOR, f'#alarms li.acked[data-alarm="{alarm_id}"]'),
        "the acknowledged alarm is not marked",
    )

    # a truck at work: its route on the map (released part apart from the horizon); paused
    # from the page, it says so itself (the table's ✓)
    truck = wait(browser, moving_truck, "no truck with a route")
    browser.find_element(By.CSS_SELECTOR, f'#fleet tr[data-truck="{truck}"]').click()
    wait(
        browser,
        lambda b: b.find_elements(By.CSS_SELECTOR, "#layer-route .route-base"),
        "the selected truck's route is not drawn",
    )
    browser.find_element(By.ID, "pause-truck").click()
    wait(
        browser,
        lambda b: "paused ✓" in row(b, truck),
        "the truck did not acknowledge its pause",
    )
    browser.save_screenshot(str(tmp_path / "console.png"))
    browser.find_element(By.ID, "resume-truck").click()
    wait(
        browser,
        lambda b: "paused" not in row(b, truck),
        "the truck was not resumed",
    )

    shift.stop()
    with Journal(shift.shift.journal.path) as journal:
        kinds = [(e.kind, e.body) for _, e in journal.events()]
    closed = [b for k, b in kinds if k == "lane.closed"]
    assert [(b["lane"], b["reason"]) for b in closed] == [(LANE, "container spill (by dana)")]
    acked = [b for k, b in kinds if k == "alarm.acked"]
    assert [(b["alarm"], b["operator"]) for b in acked] == [(alarm_id, "dana")]


def test_a_viewer_sees_no_actions_and_is_refused_if_they_try(
    shift: ConsoleShift, browser: Any
) -> None:
    browser.get(shift.url)
    sign_in(browser, "vic")
    wait(browser, lambda b: len(positions(b)) == 32, "the trucks never showed on the map")
    click_lane(browser, LANE)
    assert not browser.find_element(By.ID, "lane-actions").is_displayed()
    assert not browser.find_elements(By.CSS_SELECTOR, "#alarms button.ack")
    status = browser.execute_script(
        "return fetch('/api/actions/close_lane', {method: 'POST', credentials: 'same-origin',"
        " headers: {'Content-Type': 'application/json'}, body: JSON.stringify({lane: arguments[0]})"
        "}).then(r => r.status);",
        LANE,
    )
    assert status == 403
