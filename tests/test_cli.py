"""The `classroom` command line: help everywhere, exit codes, JSON for scripts."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from classroom.db.migrate import head_revision

CLI = [sys.executable, "-m", "classroom.cli"]


def run(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    env["CLASSROOM_DATA_DIR"] = str(tmp_path / "var")
    return subprocess.run(
        [*CLI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "cmd",
    [
        [],
        ["serve"],
        ["agent"],
        ["demo"],
        ["db", "upgrade"],
        ["user", "add"],
        ["device", "add"],
        ["device", "revoke"],
        ["unit", "add"],
        ["classroom", "add"],
        ["classroom", "list"],
        ["faces", "calibrate"],
        ["course", "add"],
        ["course", "list"],
    ],
)
def test_help_on_every_command(tmp_path: Path, cmd: list[str]) -> None:
    r = run(tmp_path, *cmd, "--help")
    assert r.returncode == 0 and "Usage" in r.stdout


def test_db_upgrade_user_and_device_life_cycle(tmp_path: Path) -> None:
    up = run(tmp_path, "db", "upgrade")
    assert up.returncode == 0 and f"revision {head_revision()}" in up.stdout
    added = run(
        tmp_path,
        "user",
        "add",
        "zhao",
        "--name",
        "赵教员",
        "--role",
        "trainer",
        "--role",
        "officer",
        "--password-stdin",
        "--json",
        stdin="long enough pw\n",
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["username"] == "zhao"
    dup = run(tmp_path, "user", "add", "zhao", "--name", "x", "--role", "officer", "--no-password")
    assert dup.returncode == 1 and "taken" in dup.stderr
    weak = run(
        tmp_path,
        "user",
        "add",
        "qian",
        "--name",
        "x",
        "--role",
        "officer",
        "--password-stdin",
        stdin="short\n",
    )
    assert weak.returncode == 1 and "at least" in weak.stderr
    bad_role = run(tmp_path, "user", "add", "sun", "--name", "x", "--role", "boss")
    assert bad_role.returncode == 2

    missing = run(tmp_path, "device", "add", "--classroom", "42", "--name", "a")
    assert missing.returncode == 1 and "classroom 42 not found" in missing.stderr
    gone = run(tmp_path, "device", "revoke", "42")
    assert gone.returncode == 1


def test_units_and_people_from_the_command_line(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    admin = run(
        tmp_path,
        "user",
        "add",
        "root-admin",
        "--name",
        "管理员",
        "--role",
        "admin",
        "--password-stdin",
        stdin="long enough pw\n",
    )
    assert admin.returncode == 0, admin.stderr
    unit = run(
        tmp_path,
        "unit",
        "add",
        "第一中队",
        "--kind",
        "squad",
        "--squad-type",
        "street",
        "--as",
        "root-admin",
        "--json",
    )
    assert unit.returncode == 0, unit.stderr
    unit_id = json.loads(unit.stdout)["id"]
    twice = run(tmp_path, "unit", "add", "第一中队", "--kind", "squad", "--as", "root-admin")
    assert twice.returncode == 1 and "exists" in twice.stderr
    nobody = run(tmp_path, "unit", "add", "x", "--kind", "squad", "--as", "ghost")
    assert nobody.returncode == 1 and "not a manager or admin" in nobody.stderr
    officer = run(
        tmp_path,
        "user",
        "add",
        "li",
        "--name",
        "李",
        "--role",
        "officer",
        "--no-password",
        "--unit",
        str(unit_id),
        "--badge",
        "D0777",
        "--hired-on",
        "2022-12-15",
    )
    assert officer.returncode == 0, officer.stderr
    listed = json.loads(run(tmp_path, "unit", "list", "--json").stdout)
    assert [(u["name"], u["squad_type"], u["active"]) for u in listed] == [
        ("第一中队", "street", True)
    ]
    room = run(tmp_path, "classroom", "add", "一号教室", "--location", "三楼", "--as", "root-admin")
    assert room.returncode == 0, room.stderr
    again = run(tmp_path, "classroom", "add", "一号教室", "--as", "root-admin")
    assert again.returncode == 1 and "exists" in again.stderr
    trainer = run(
        tmp_path, "user", "add", "wang", "--name", "王", "--role", "trainer", "--no-password"
    )
    assert trainer.returncode == 0, trainer.stderr
    course = run(
        tmp_path,
        *("course", "add", "KD-1", "科队学习", "--kind", "unit_study", "--trainer", "wang"),
        *("--unit", str(unit_id), "--as", "root-admin", "--json"),
    )
    assert course.returncode == 0, course.stderr
    bad = run(
        tmp_path, "course", "add", "KD-2", "x", "--trainer", "li", "--as", "root-admin"
    )  # li is an officer, not a trainer
    assert bad.returncode == 1 and "not a trainer" in bad.stderr
    courses = json.loads(run(tmp_path, "course", "list", "--json").stdout)
    assert [(c["code"], c["kind"], c["audience_unit_ids"]) for c in courses] == [
        ("KD-1", "unit_study", [unit_id])
    ]
    rooms = json.loads(run(tmp_path, "classroom", "list", "--json").stdout)
    assert [(r["name"], r["location"], r["devices"]) for r in rooms] == [("一号教室", "三楼", [])]


PLANS = Path(__file__).resolve().parent.parent / "plans"


def test_plan_check_accepts_the_2023_plan_and_shows_it(tmp_path: Path) -> None:
    ok = run(tmp_path, "plan", "check", str(PLANS / "2023.toml"))
    assert ok.returncode == 0 and "15 study items" in ok.stdout
    env_plans = ["--config", str(_config(tmp_path))]
    shown = run(tmp_path, *env_plans, "plan", "show", "--year", "2023")
    assert shown.returncode == 0 and "60 学时 / 24 学分" in shown.stdout
    assert "长三角城管执法〔2022〕2号" in shown.stdout
    missing = run(tmp_path, *env_plans, "plan", "show", "--year", "2030")
    assert missing.returncode == 1 and "no training plan for 2030" in missing.stderr


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "classroom.toml"
    cfg.write_text(f'plans_dir = "{PLANS}"\n')
    return cfg


def test_plan_check_names_file_line_and_field(tmp_path: Path) -> None:
    broken = (PLANS / "2023.toml").read_text().replace("min_minutes = 40", "min_minutes = -40")
    broken = broken.replace('requirement = "with_actual_work"', 'requirement = "whenever"')
    path = tmp_path / "2024.toml"
    path.write_text(broken)
    r = run(tmp_path, "plan", "check", str(path))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    want_task = next(n for n, ln in enumerate(broken.splitlines(), 1) if "min_minutes = -40" in ln)
    assert f"{path}:{want_task}: tasks[3].min_minutes" in lines[0]
    assert "greater than 0" in lines[0]
    assert any("study_items[10].requirement" in ln for ln in lines)
    syntax = tmp_path / "bad.toml"
    syntax.write_text("year = \n")
    r = run(tmp_path, "plan", "check", str(syntax))
    assert r.returncode == 1 and "not valid TOML" in r.stderr and "line 1" in r.stderr


def test_plan_check_refuses_a_year_other_than_the_files_name(tmp_path: Path) -> None:
    path = tmp_path / "2024.toml"
    path.write_text((PLANS / "2023.toml").read_text())
    r = run(tmp_path, "plan", "check", str(path))
    line = next(n for n, ln in enumerate(path.read_text().splitlines(), 1) if ln.startswith("year"))
    assert r.returncode == 1
    assert f"{path}:{line}: year: says 2023, but the file is named for 2024" in r.stderr


def test_parts_that_do_not_add_up_are_refused(tmp_path: Path) -> None:
    text = (PLANS / "2023.toml").read_text().replace("hours = 60\n", "hours = 64\n", 1)
    path = tmp_path / "p.toml"
    path.write_text(text)
    r = run(tmp_path, "plan", "check", str(path))
    assert r.returncode == 1 and "add up to 60 hours" in r.stderr


def test_import_and_compliance_report_formats(tmp_path: Path) -> None:
    import asyncio

    from classroom.db.engine import session_factory
    from classroom.runtime import open_database
    from classroom.seed import seed_demo
    from classroom.settings import load_settings

    async def seed() -> None:
        settings = load_settings(data_dir=tmp_path / "var")
        async with open_database(settings) as engine, session_factory(engine)() as db:
            await seed_demo(db)

    asyncio.run(seed())
    cfg = ["--config", str(_config(tmp_path))]
    csv_file = tmp_path / "online.csv"
    csv_file.write_text("badge_no,course,hours,credits,date\nD0005,补学课程,8,4,2023-11-01\n")
    done = run(tmp_path, *cfg, "import", "online", str(csv_file), "--as", "manager")
    assert done.returncode == 0 and "1 imported" in done.stdout
    refused = run(tmp_path, *cfg, "import", "online", str(csv_file), "--as", "officer1")
    assert refused.returncode == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("badge_no,course,hours,credits,date\nNOPE,x,1,1,2023-01-01\n")
    r = run(tmp_path, *cfg, "import", "online", str(bad), "--as", "manager")
    assert r.returncode == 1 and f"{bad}:2: unknown officer badge number" in r.stderr

    sheet = tmp_path / "signin.csv"
    sheet.write_text("session_id,badge_no,check_in,check_out\n2,D0005,2023-05-08 09:02,\n")
    signed = run(tmp_path, *cfg, "import", "attendance", str(sheet), "--as", "manager")
    assert signed.returncode == 0 and "1 imported" in signed.stdout, signed.stderr
    sheet.write_text("session_id,badge_no,check_in,check_out\n2,D0005,2023-07-08 09:02,\n")
    far = run(tmp_path, *cfg, "import", "attendance", str(sheet), "--as", "manager")
    assert far.returncode == 1 and f"{sheet}:2: check_in" in far.stderr

    table = run(tmp_path, *cfg, "report", "compliance", "--year", "2023")
    assert table.returncode == 0 and "刘队员" in table.stdout
    as_json = run(tmp_path, *cfg, "report", "compliance", "--year", "2023", "--format", "json")
    data = json.loads(as_json.stdout)
    liu = next(o for o in data["officers"] if o["name"] == "刘队员")
    assert liu["online_hours"] == 16 + 8  # the seed's 16 and the import's 8
    squad = next(u for u in data["units"] if u["kind"] == "squad")
    assert squad["assessment_passed"] is True and "13" in squad["items_owed"].split()
    xlsx = tmp_path / "r.xlsx"
    made = run(
        tmp_path,
        *cfg,
        "report",
        "compliance",
        "--year",
        "2023",
        "--format",
        "xlsx",
        "-o",
        str(xlsx),
    )
    assert made.returncode == 0 and xlsx.read_bytes()[:2] == b"PK"
    no_out = run(tmp_path, *cfg, "report", "compliance", "--year", "2023", "--format", "xlsx")
    assert no_out.returncode == 2


def test_serve_says_why_its_object_store_did_not_start(tmp_path: Path) -> None:
    """Another portal holds the embedded store of this data directory: serve exits 1 and says so
    on its own stderr (the reason was only in weed.log)."""
    root = tmp_path / "var" / "s3"
    root.mkdir(parents=True)
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = run(tmp_path, "serve")
    assert r.returncode == 1, (r.stdout[-2000:], r.stderr[-2000:])
    assert "object_store.start_failed" in r.stderr
    assert "another embedded object store is already running" in r.stderr
