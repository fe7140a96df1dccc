"""A trainer in a real browser: log in, record, stop, and play the recording."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.api_helpers import workbook
from tests.browser import browser
from tests.live_stack import LiveStack

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def log_in(page: Page, live: LiveStack, username: str, password: str) -> None:
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_trainer_records_and_plays_back(live: LiveStack, tmp_path: Path) -> None:
    with browser(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        log_in(page, live, "trainer", "trainer-demo-pw")
        expect(page.locator("h1")).to_have_text("课程安排")  # Simplified Chinese by default
        page.click(f"a[href='/sessions/{live.world.session_id}']")
        asked: list[str] = []

        def answer(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept()

        page.on("dialog", answer)
        page.click("#start")
        expect(page.locator("#stop")).to_be_visible()
        # Pause and resume once the agent has confirmed (the page refreshes itself meanwhile).
        page.locator("#pause").click(timeout=20_000)
        expect(page.locator("#resume")).to_be_visible()
        page.click("#resume")
        expect(page.locator("#pause")).to_be_visible()
        page.select_option("select[name=minutes]", "15")
        page.click("#extend")
        expect(page.locator("#stop")).to_be_visible()
        time.sleep(4)
        page.click("#stop")
        assert asked[-1] == "停止录制？停止后本段录像即结束。"  # Stop asks first
        expect(page.locator("#start")).to_be_visible()
        # While the recording is processed the page keeps itself current in place: a note being
        # typed meanwhile stays, and the page is never reloaded under it.
        page.evaluate("window.stayed = true")
        page.fill("form.attendance input[name=reason]", "迟到十分钟")
        play = page.locator("tr[data-state=available] a.play").first
        expect(play).to_be_visible(timeout=45_000)
        assert page.evaluate("window.stayed === true")
        expect(page.locator("form.attendance input[name=reason]")).to_have_value("迟到十分钟")
        play.click()
        video = page.locator("video#player")
        expect(video).to_be_visible()
        page.evaluate("document.querySelector('video#player').muted = true")
        # Pressed again while paused: hls.js attaches its stream a moment after the page loads,
        # and a play() before that is interrupted by the new load (seen in CI).
        press_play = """(() => {
            const v = document.querySelector('video#player');
            if (v.paused) v.play().catch(() => {});
            return v.currentTime;
        })()"""
        deadline = time.monotonic() + 20
        current = 0.0
        while time.monotonic() < deadline:
            current = page.evaluate(press_play)
            if current > 1.0:
                break
            time.sleep(0.2)
        error = page.evaluate("document.querySelector('video#player').error?.message ?? null")
        assert current > 1.0, (current, error)
        # Through HLS over the stored segments (hls.js, bundled), not the MP4.
        assert video.get_attribute("data-source") == "hls"
        page.screenshot(path=str(live.data_dir / "player.png"))


def test_officer_sees_no_record_button_and_english_on_request(
    live: LiveStack, tmp_path: Path
) -> None:
    with browser(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        log_in(page, live, "officer1", "officer-demo-pw")
        page.click("text=English")
        expect(page.locator("h1")).to_have_text("Sessions")
        page.goto(f"{live.url}/sessions/{live.world.session_id}")
        expect(page.locator("#start")).to_have_count(0)
        # A forged form post is refused by the server, not only hidden in the page.
        status = page.evaluate(
            f"fetch('/sessions/{live.world.session_id}/start', {{method: 'POST'}})"
            ".then(r => r.status)"
        )
        assert status == 403


def test_officer_sees_own_progress_with_bars(live: LiveStack, tmp_path: Path) -> None:
    with browser(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        log_in(page, live, "officer1", "officer-demo-pw")
        page.goto(f"{live.url}/progress?year=2023")
        expect(page.locator("#verdict")).to_contain_text("尚未完成")
        bars = page.locator("section.part[data-part] progress.bar")
        expect(bars).to_have_count(3)
        online = page.locator("section.part[data-part=online] progress.bar")
        value, top = online.get_attribute("value"), online.get_attribute("max")
        assert value is not None and top is not None and float(value) == float(top)  # 24 h
        expect(page.locator("text=科队学习").first).to_be_visible()
        # Entries say where they came from, by name, with a link to a session.
        expect(page.locator("table")).to_contain_text("市局在线培训平台（2023年）")
        expect(page.locator("table")).not_to_contain_text("seed:online")
        first = page.locator("table a[href^='/sessions/']").first
        expect(first).to_be_visible()
        assert first.inner_text().strip()
        page.screenshot(path=str(live.data_dir / "progress.png"), full_page=True)
        # Another officer's page and the manager's view are refused.
        page.goto(f"{live.url}/compliance")
        expect(page.locator("h1")).to_have_text("无权访问")


def test_manager_sorts_the_bureau_and_trainer_records_attendance(
    live: LiveStack, tmp_path: Path
) -> None:
    with browser(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        log_in(page, live, "manager", "manager-demo-pw")
        page.goto(f"{live.url}/compliance?year=2023")
        expect(page.locator("svg.chart polyline.actual")).to_have_count(1)
        expect(page.locator("#units tbody tr")).to_have_count(2)
        # A unit's owed study items open to their titles, not bare numbers.
        owed = page.locator("#units details.owed").first
        owed.locator("summary").click()
        expect(owed.locator("li").first).to_contain_text(".")
        assert len(owed.locator("li").first.inner_text()) > 6
        page.click("#officers thead a:has-text('姓名')")
        names = page.locator("#officers tbody tr td:first-child a").all_inner_texts()
        assert names == sorted(names) and len(names) == 4
        page.screenshot(path=str(live.data_dir / "compliance.png"), full_page=True)
        page.click("#units tbody a:has-text('第一街镇中队')")
        months = page.locator("#unit-months tbody tr")
        expect(months).to_have_count(12)
        # February's study was 35 minutes: it did not count, and the page says why.
        expect(months.nth(1)).to_contain_text("时长 35 分钟，不足 40 分钟")
        expect(months.nth(2)).to_contain_text("参加 2/3 人，不足 90%")
        page.screenshot(path=str(live.data_dir / "unit.png"), full_page=True)
        page.goto(f"{live.url}/compliance?year=2023")
        with page.expect_download() as dl:
            page.click("text=Excel")
        assert dl.value.suggested_filename == "compliance-2023.xlsx"

    with browser(tmp_path / "profile2") as ctx:
        page = ctx.new_page()
        log_in(page, live, "trainer", "trainer-demo-pw")
        page.goto(f"{live.url}/sessions/{live.world.session_id}")
        before = page.locator("#attendance-rows tbody tr").count()
        page.select_option("select[name=person_id]", label="刘队员")
        page.click("#add-attendance")
        expect(page.locator("#attendance-rows tbody tr td:first-child").last).to_have_text("刘队员")
        assert page.locator("#attendance-rows tbody tr").count() in (before, before + 1)
        # A 2023 unit study: tag the study-list items it covered (checked against the 2023 plan).
        sessions = page.request.get(f"{live.url}/api/v1/sessions").json()
        march = next(x for x in sessions if x["title"] == "2023年3月科队学习")
        page.goto(f"{live.url}/sessions/{march['id']}")
        expect(page.locator("input[name=item]")).to_have_count(15)
        page.check("input[name=item][value='11']")
        page.fill("input[name=articles_15]", "4")
        page.click("#save-study")
        expect(page.locator("input[name=item][value='11']")).to_be_checked()
        expect(page.locator("input[name=articles_15]")).to_have_value("4")


def test_manager_schedules_and_cancels_a_session(live: LiveStack, tmp_path: Path) -> None:
    """The sessions page's form books the classroom in local time; a second booking over it is
    refused with its name; the session page cancels it behind a box to tick."""
    day = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=30)).strftime("%Y-%m-%d")
    with browser(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        log_in(page, live, "manager", "manager-demo-pw")
        page.goto(f"{live.url}/sessions")
        page.click("details.schedule summary")

        def schedule(title: str, start: str, end: str) -> None:
            page.fill("form.schedule input[name=title]", title)
            page.select_option("form.schedule select[name=kind]", "unit_study")
            page.select_option("form.schedule select[name=trainer_id]", label="李教员")
            page.fill("form.schedule input[name=planned_start]", f"{day}T{start}")
            page.fill("form.schedule input[name=planned_end]", f"{day}T{end}")
            page.click("#schedule")

        schedule("法律文书写作", "09:00", "10:30")
        expect(page.locator("h1")).to_have_text("法律文书写作")
        expect(page.locator("dl.facts")).to_contain_text(f"{day} 09:00 – {day} 10:30")
        booked = page.url
        page.goto(f"{live.url}/sessions")
        page.click("details.schedule summary")
        schedule("重复预约", "10:00", "11:00")
        # Refused on the form, beside the classroom, in Chinese, with what was typed kept.
        said = page.locator("form.schedule p.field-error")
        expect(said).to_contain_text("（法律文书写作）占用")
        expect(said).to_contain_text(f"{day} 09:00")  # the bureau's time, not an ISO string
        expect(page.locator("form.schedule select[name=classroom_id]")).to_have_attribute(
            "aria-invalid", "true"
        )
        expect(page.locator("form.schedule input[name=title]")).to_have_value("重复预约")
        expect(page).to_have_url(f"{live.url}/sessions")
        schedule("重复预约", "11:00", "10:00")  # the end before the start: said at the end
        expect(page.locator("form.schedule p.field-error")).to_have_text("结束时间须晚于开始时间")
        expect(page.locator("form.schedule input[name=planned_end]")).to_have_attribute(
            "aria-invalid", "true"
        )
        page.screenshot(path=str(live.data_dir / "booked.png"), full_page=True)
        page.goto(booked)
        page.click("#cancel-session")  # the box is not ticked: the browser keeps the form
        expect(page).to_have_url(booked)
        page.check("form.cancel input[name=confirm]")
        page.click("#cancel-session")
        expect(page).to_have_url(f"{live.url}/sessions")
        expect(page.locator("a:has-text('法律文书写作')")).to_have_count(0)


def _roster_xlsx(path: Path, rows: list[list[object]]) -> Path:
    path.write_bytes(workbook([["警号", "姓名", "单位", "单位类型", "角色", "入职日期"], *rows]))
    return path


def test_manager_imports_a_roster_on_a_phone(live: LiveStack, tmp_path: Path) -> None:
    """A 390-px page: a roster with a bad line is previewed and cannot be applied; corrected, it
    is previewed (three to add, a new unit) and applied, and the people are there."""
    bad = _roster_xlsx(
        tmp_path / "bad.xlsx",
        [
            ["W3001", "吴一", "长征中队", "中队", "学员", "2020-01-01"],
            ["W3002", "吴二", "无名", "", "", ""],
        ],
    )
    good = _roster_xlsx(
        tmp_path / "good.xlsx",
        [
            ["W3001", "吴一", "长征中队", "中队", "学员", "2020-01-01"],
            ["W3002", "吴二", "长征中队", "", "学员", "2022-12-15"],
            ["W3003", "吴三", "长征中队", "", "学员、教员", ""],
        ],
    )
    with browser(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        page.set_viewport_size({"width": 390, "height": 844})
        log_in(page, live, "manager", "manager-demo-pw")
        page.goto(f"{live.url}/roster")
        page.set_input_files("#roster-file", str(bad))
        page.click("#roster-form button[type=submit]")
        expect(page.locator("#roster-refused")).to_contain_text("第 3 行")
        expect(page.locator("#roster-status")).to_contain_text("本次不会导入任何内容")
        expect(page.locator("#roster-apply")).to_be_hidden()
        page.set_input_files("#roster-file", str(good))
        page.click("#roster-form button[type=submit]")
        expect(page.locator("#roster-added li")).to_have_count(3)
        expect(page.locator("#roster-units")).to_contain_text("长征中队")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, width  # nothing wider than the phone
        page.click("#roster-apply")
        expect(page.locator("#roster-status")).to_contain_text("已导入，3 人有变动")
        page.screenshot(path=str(live.data_dir / "roster.png"), full_page=True)
    manager = live.login("manager")
    found = manager.get("/api/v1/people", params={"q": "W300"}).json()
    assert sorted(p["badge_no"] for p in found) == ["W3001", "W3002", "W3003"]


def _bureau_xlsx(path: Path) -> Path:
    """Three units and twenty people, as a training office's roster."""
    units = [("长城中队", "中队", 8), ("黄河中队", "中队", 7), ("宣传科", "科室", 5)]
    rows: list[list[object]] = []
    for unit, kind, n in units:
        for i in range(n):
            badge = f"W4{len(rows) + 1:03d}"
            rows.append([badge, f"{unit[:2]}{i + 1}号", unit, kind, "学员", "2015-06-01"])
    return _roster_xlsx(path, rows)


def test_a_bureau_set_up_and_a_unit_leader_takes_the_roll_on_a_phone(
    live: LiveStack, tmp_path: Path
) -> None:
    """An administrator imports a roster of three units and twenty people and makes one of them
    the leader of 长城中队, with a one-time password; the leader, on a 390-px phone, changes it,
    schedules drills on the parade ground on the 1st and 3rd Tuesday of March 2023, ticks everyone
    on each roll, and the unit's compliance shows March's two drills held."""
    with browser(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        log_in(page, live, "admin", "admin-demo-pw")
        page.goto(f"{live.url}/roster")
        page.set_input_files("#roster-file", str(_bureau_xlsx(tmp_path / "bureau.xlsx")))
        page.click("#roster-form button[type=submit]")
        expect(page.locator("#roster-added li")).to_have_count(20)
        page.click("#roster-apply")
        expect(page.locator("#roster-status")).to_contain_text("已导入，20 人有变动")
        page.goto(f"{live.url}/people")
        page.locator("tr", has_text="W4001").locator("a", has_text="编辑").click()
        page.locator("#leads label", has_text="长城中队").locator("input").check()
        page.click("#person-form button[type=submit]")
        expect(page.locator("p[role=status]")).to_be_visible()
        page.click("#password-reset")
        temporary = page.locator("#temporary").inner_text().split("：", 1)[1].split("（", 1)[0]
    with browser(tmp_path / "phone") as ctx:
        page = ctx.new_page()
        page.set_viewport_size({"width": 390, "height": 844})
        log_in(page, live, "w4001", temporary)
        expect(page).to_have_url(f"{live.url}/account/password")
        page.fill("input[name=current]", temporary)
        page.fill("input[name=new]", "leader-phone-pw")
        page.fill("input[name=repeat]", "leader-phone-pw")
        page.click("form[action='/account/password'] button[type=submit]")
        expect(page).not_to_have_url(f"{live.url}/account/password")
        page.goto(f"{live.url}/sessions")
        page.click("details.schedule summary")
        form = page.locator("form.schedule")
        form.locator("input[name=title]").fill("队列训练")
        form.locator("select[name=kind]").select_option("drill_training")
        expect(form.locator("select[name=unit_id] option")).to_have_count(1)  # their unit only
        form.locator("select[name=classroom_id]").select_option("")
        form.locator("input[name=place]").fill("局大院操场")
        form.locator("input[name=planned_start]").fill("2023-03-07T08:00")
        form.locator("input[name=planned_end]").fill("2023-03-07T08:40")
        form.locator("select[name=repeat]").select_option("monthly_1_3")
        form.locator("input[name=until]").fill("2023-03-31")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, width
        page.click("#schedule")
        drills = page.locator("#series-sessions tbody tr")
        expect(drills).to_have_count(2)
        expect(page.locator("#series-sessions")).to_contain_text("局大院操场")
        links = [drills.nth(i).locator("a").get_attribute("href") for i in range(2)]
        for href in links:
            page.goto(f"{live.url}{href}")
            page.click("#open-roll")
            expect(page.locator("li.roll-line")).to_have_count(8)
            page.click("#roll-all")
            expect(page.locator("#roll-count")).to_have_text("到 8 / 8 人")
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, width
            page.click("#roll-save")
            expect(page.locator("#roll-saved")).to_contain_text("新增 8 人")
        page.screenshot(path=str(live.data_dir / "roll.png"), full_page=True)
        page.goto(f"{live.url}/compliance?year=2023")
        units = page.locator("table").first
        expect(units).to_contain_text("长城中队")
        expect(units).not_to_contain_text("黄河中队")  # nothing of other units
        page.locator("a", has_text="长城中队").first.click()
        march = page.locator("#unit-months tr", has_text="3月")
        expect(march).to_contain_text("2 / 2")


def test_a_manager_books_a_year_from_a_table(live: LiveStack, tmp_path: Path) -> None:
    """The calendar page checks a table of sessions (a bad line refuses the whole file, named),
    books the corrected one, and the calendar shows the months filled."""
    header = ["标题", "类型", "课程编号", "单位", "教室", "场地", "教员", "日期", "开始", "结束"]

    def drills(*days: str, course: str = "ZF-2023-01") -> list[list[object]]:
        return [
            [
                "队列训练",
                "队列训练",
                course,
                "第一街镇中队",
                "",
                "局大院操场",
                "trainer",
                d,
                "07:00",
                "07:40",
            ]
            for d in days
        ]

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(workbook([header, *drills("2023-11-07"), *drills("2023-11-21", course="NOPE")]))
    good = tmp_path / "good.xlsx"
    good.write_bytes(workbook([header, *drills("2023-11-07", "2023-11-21", "2023-12-05")]))
    with browser(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        log_in(page, live, "manager", "manager-demo-pw")
        page.goto(f"{live.url}/calendar?year=2023")
        before = page.locator("tr[data-task=drill_training] td.to-schedule").inner_text()
        page.set_input_files("#import-file", str(bad))
        page.click("#import-form button[type=submit]")
        expect(page.locator("#import-refused")).to_contain_text("第 3 行")
        expect(page.locator("#import-apply")).to_be_hidden()
        page.set_input_files("#import-file", str(good))
        page.click("#import-form button[type=submit]")
        expect(page.locator("#import-added li")).to_have_count(3)
        page.click("#import-apply")
        expect(page.locator("#import-status")).to_contain_text("已导入 3 个场次")
        page.reload()
        after = page.locator("tr[data-task=drill_training] td.to-schedule").inner_text()
        assert int(after) == int(before) - 3, (before, after)
