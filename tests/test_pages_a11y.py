"""Every page, as the people who use it, in both languages, on a desk (1366 px) and a phone
(390 px): axe-core finds no serious or critical violation, and no page is wider than a phone's
screen. With CLASSROOM_SCREENSHOTS=<dir> (``make screenshots``, Simplified Chinese only) each page
is also kept as a picture, for the README's readers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.browser import browser
from tests.live_stack import LiveStack

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WIDTHS = {"desk": (1366, 768), "phone": (390, 844)}
SERIOUS = {"serious", "critical"}


def _pages(live: LiveStack) -> dict[str, list[tuple[str, str]]]:
    """(name, path) of each page, by who looks at it."""
    manager = live.login("manager")
    sid = live.world.session_id
    people = manager.get("/api/v1/people").json()
    officer = next(p["id"] for p in people if p["username"] == "officer1")
    course = manager.get("/api/v1/courses").json()[0]["id"]
    return {
        "manager": [
            ("sessions", "/sessions"),
            ("session", f"/sessions/{sid}"),
            ("recordings", "/recordings"),
            ("compliance", "/compliance?year=2023"),
            ("officer-compliance", f"/compliance/officers/{officer}?year=2023"),
            ("calendar", "/calendar?year=2023"),
            ("units", "/units"),
            ("roster", "/roster"),
            ("cohorts", "/cohorts"),
            ("classrooms", "/classrooms"),
            ("classrooms-setup", "/classrooms/setup"),
            ("people", "/people"),
            ("person-new", "/people/new"),
            ("person-edit", f"/people/{officer}/edit"),
            ("cards", f"/people/{officer}/cards"),
            ("courses", "/courses"),
            ("course-new", "/courses/new"),
            ("course-edit", f"/courses/{course}/edit"),
            ("password", "/account/password"),
        ],
        "trainer": [("trainer-session", f"/sessions/{sid}"), ("roll", f"/sessions/{sid}/roll")],
        "officer1": [("progress", "/progress?year=2023"), ("officer-sessions", "/sessions")],
        "": [("login", "/login"), ("kiosk", "/kiosk")],
    }


def _log_in(page: Page, live: LiveStack, username: str) -> None:
    from classroom.seed import DEMO_LOGINS

    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_LOGINS[username][1])
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def _widest(page: Page, width: int) -> str:
    """The innermost elements that reach past the screen's edge, for the failure's message."""
    return str(
        page.evaluate(
            """(w) => [...document.querySelectorAll("body *")]
                .filter((e) => e.getBoundingClientRect().right > w + 1)
                .filter((e) => !e.closest("header nav"))  // the menu strip scrolls by design
                .filter((e) => ![...e.children].some(
                    (c) => c.getBoundingClientRect().right > w + 1))
                .slice(0, 4)
                .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
                     + (e.className && typeof e.className === "string" ? "." + e.className : "")
                     + " " + JSON.stringify((e.textContent || "").trim().slice(0, 30)))""",
            width,
        )
    )


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_page_is_accessible_and_fits_a_phone(
    live: LiveStack, tmp_path: Path, lang: str
) -> None:
    shots = os.environ.get("CLASSROOM_SCREENSHOTS")
    axe = Axe()
    found: list[str] = []
    for who, pages in _pages(live).items():
        with browser(tmp_path / f"profile-{who or 'anon'}-{lang}") as ctx:
            ctx.add_cookies([{"name": "lang", "value": lang, "url": live.url}])
            page = ctx.new_page()
            if who:
                _log_in(page, live, who)
            for name, path in pages:
                for width, (w, h) in WIDTHS.items():
                    page.set_viewport_size({"width": w, "height": h})
                    page.goto(f"{live.url}{path}")
                    page.wait_for_load_state("networkidle")
                    result = axe.run(page)
                    for v in result.response["violations"]:
                        if v["impact"] in SERIOUS:
                            nodes = "; ".join(n["target"][0] for n in v["nodes"][:3])
                            found.append(f"{lang} {width} {name}: {v['id']} ({nodes})")
                    wide = page.evaluate("document.documentElement.scrollWidth")
                    if width == "phone" and wide > w:
                        found.append(f"{lang} phone {name}: {wide} px wide: {_widest(page, w)}")
                    if shots:  # what a person sees first, kept small enough for the repository
                        out = Path(shots) / f"{name}-{width}.jpg"
                        out.parent.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(out), type="jpeg", quality=70)
    assert not found, "\n".join(found)
