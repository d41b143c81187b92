"""Issue 15 in a real browser (Debian chromium via selenium) against a real delivery: the board
shows each stage's version, clicks reach a sequence timeline and an evaluation heat map, the
approval button merges the approval branch, and a push shows up on the board without a reload.
Each view is photographed (into docs/ui/ when RECONCILER_UI_SCREENSHOTS=docs/ui)."""
from __future__ import annotations

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from reconciler import contract
from tests.support.browser import chromium, screenshot_dir
from tests.support.remotes import git_out
from tests.support.waiting import wait_until

VALUES = "# dev values\nimage: helloservice:{v}\nreplicaCount: 1   # dev-specific\n"


def cells(driver, service: str = "helloservice") -> list[str]:
    row = driver.find_element(By.XPATH, f"//table[@id='board']//tr[th/a[text()='{service}']]")
    return [td.text for td in row.find_elements(By.TAG_NAME, "td")]


def wait_for(driver, check, timeout: float = 30, what: str = "the page"):
    # live.js replaces <main> while we read it: a stale element means "look again"
    return WebDriverWait(driver, timeout, 0.1, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: check(d), message=f"waiting for {what}")


def notice(driver, action: str) -> str:
    """The text of the notice an action's answer page shows (after the form's navigation)."""
    return wait_for(driver, lambda d: next((n.text for n in d.find_elements(By.ID, "notice")), None),
                    what=f"the answer to {action}")


@pytest.mark.slow
@pytest.mark.browser
def test_board_timeline_heatmap_approval_and_live_update_in_chromium(project, e2e_service, human_factory, tmp_path):
    shots = screenshot_dir(tmp_path / "shots")
    service = e2e_service(project.origin)
    dev = human_factory(str(project.origin), "dev")
    dev.change("helloservice/values.yaml", VALUES.format(v="1.1.0"), "ship 1.1.0")
    waiting = wait_until(lambda: service.index.runs(stage="production", states=("waitingForApproval",)),
                         timeout=120, what="the production approval")[0]

    with chromium() as driver:
        driver.get(service.url + "/?token=test-token")          # once: becomes a cookie
        assert "token" not in driver.current_url
        dev_cell, staging_cell, production_cell = cells(driver)
        assert "1.1.0" in dev_cell and "gate pass" in dev_cell
        assert "1.1.0" in staging_cell and "gate pass" in staging_cell
        assert "1.0.0" in production_cell and "approval pending" in production_cell
        driver.save_screenshot(str(shots / "board.png"))

        # board → sequences of the service → the context's timeline
        driver.find_element(By.LINK_TEXT, "helloservice").click()
        driver.find_element(By.LINK_TEXT, waiting["context"][:8]).click()
        assert driver.current_url.endswith("/sequences/" + waiting["context"])
        timeline = driver.find_element(By.ID, "main").text
        for heading in ("dev · helloservice · delivery", "staging · helloservice · delivery",
                        "production · helloservice · delivery"):
            assert heading in timeline
        assert "evaluation" in timeline and "Commits this context wrote" in timeline
        driver.save_screenshot(str(shots / "timeline.png"))

        # timeline → an evaluation's SLI table → the lane's heat map and trends
        driver.find_elements(By.LINK_TEXT, "SLI table")[0].click()
        assert "response_time" in driver.find_element(By.ID, "main").text
        driver.save_screenshot(str(shots / "evaluation.png"))
        evaluation_url = driver.current_url
        driver.find_element(By.PARTIAL_LINK_TEXT, "heat map and trends").click()
        heatmap = driver.find_element(By.CSS_SELECTOR, "svg.heatmap")
        assert "response_time" in heatmap.text
        assert driver.find_elements(By.CSS_SELECTOR, "svg.trend")
        driver.save_screenshot(str(shots / "heatmap.png"))

        # invalidate that evaluation (the button asks first), as Keptn's evaluation.invalidated
        driver.get(evaluation_url)
        driver.find_element(By.XPATH, "//button[text()='Invalidate this evaluation']").click()
        WebDriverWait(driver, 10).until(lambda d: d.switch_to.alert).accept()
        assert "evaluation invalidated" in notice(driver, "Invalidate")
        assert "Invalidated" in driver.find_element(By.ID, "main").text
        path = evaluation_url.split("path=")[1].replace("%2F", "/")
        stored = git_out("show", f"{contract.RESULTS_BRANCH}:{path}", cwd=project.origin)
        assert '"invalidated": true' in stored

        # approvals: the button merges the approval branch into production
        driver.find_element(By.LINK_TEXT, "Approvals").click()
        branch = contract.approval_branch("production", "helloservice", waiting["context"])
        assert branch in driver.find_element(By.ID, "main").text
        driver.save_screenshot(str(shots / "approvals.png"))
        driver.find_element(By.XPATH, f"//tr[@id='{waiting['context']}']//button[text()='Approve']").click()
        assert "approved production/helloservice" in notice(driver, "Approve")
        values = git_out("show", "production:helloservice/values.yaml", cwd=project.origin)
        assert "image: helloservice:1.1.0" in values
        assert branch not in git_out("branch", "--list", cwd=project.origin)
        wait_until(lambda: [r for r in service.index.runs(context=waiting["context"], stage="production")
                            if r["state"] == "finished"], timeout=60, what="the approved production delivery")

        for view, name in (("Problems", "problems"), ("Config", "config")):
            driver.find_element(By.LINK_TEXT, view).click()
            driver.save_screenshot(str(shots / f"{name}.png"))

        # live: a push appears on the open board without a reload
        driver.find_element(By.LINK_TEXT, "Environment").click()
        wait_for(driver, lambda d: "on" in d.find_element(By.ID, "live").text.split(":")[-1], what="the live stream")
        driver.execute_script("window.__sameDocument = 42;")
        typed = driver.find_element(By.NAME, "service")
        typed.send_keys("hello")                     # typed, not submitted: must survive the update
        dev.change("helloservice/values.yaml", VALUES.format(v="1.2.0"), "ship 1.2.0")
        wait_for(driver, lambda d: "1.2.0" in cells(d)[0], timeout=60, what="1.2.0 on the board")
        assert driver.execute_script("return window.__sameDocument;") == 42       # no reload happened
        assert int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-updates")) >= 1
        assert driver.find_element(By.NAME, "service").get_attribute("value") == "hello"
        driver.save_screenshot(str(shots / "board-live.png"))

        # the heat map again once dev has gated 1.2.0 too: two evaluations side by side
        wait_until(lambda: len(service.index.evaluation_rows(stage="dev", service="helloservice")) >= 2,
                   timeout=90, what="dev's second evaluation")
        driver.get(service.url + "/evaluations?stage=dev&service=helloservice")
        columns = driver.find_element(By.CSS_SELECTOR, "svg.heatmap").text
        assert columns.count("✓") >= 4            # response_time and score, two evaluations
        driver.save_screenshot(str(shots / "heatmap.png"))
