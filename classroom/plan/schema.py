"""The shape of a year's training plan: quota and its parts, presence rules, tasks, study list.

Everything a year may change is a field here, so next year's plan is a new TOML file, not code.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from classroom.db.models import SessionKind


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CreditSource(enum.StrEnum):
    SESSION = "session"  # attendance at classroom sessions
    ONLINE_IMPORT = "online_import"  # the city platform's CSV
    RECORDING_WATCH = "recording_watch"  # watched recordings (step 5)


class QuotaPart(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    name_en: str = ""
    hours: float = Field(ge=0)
    credits: float = Field(ge=0)
    at_least: bool = False
    sources: list[CreditSource] = Field(min_length=1)


class Quota(_Strict):
    hours: float = Field(gt=0)
    credits: float = Field(ge=0)
    parts: list[QuotaPart] = Field(min_length=1)

    @model_validator(mode="after")
    def _parts_add_up(self) -> Quota:
        ids = [p.id for p in self.parts]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate part ids in {ids}")
        hours = sum(p.hours for p in self.parts)
        credits = sum(p.credits for p in self.parts)
        if abs(hours - self.hours) > 1e-9 or abs(credits - self.credits) > 1e-9:
            raise ValueError(
                f"parts add up to {hours:g} hours / {credits:g} credits, "
                f"but the quota is {self.hours:g} / {self.credits:g}"
            )
        return self


class Presence(_Strict):
    late_tolerance_min: float = Field(ge=0, le=240)
    early_leave_tolerance_min: float = Field(ge=0, le=240)
    # A tolerance shrinks with the session: the smaller of its minutes and this share of the
    # session's length (10 minutes of a 20-minute drill are not "on time").
    tolerance_share: float = Field(ge=0, le=1)
    min_share: float = Field(gt=0, le=1)
    partial: Literal["prorate", "none"]

    def tolerances_s(self, length_s: float) -> tuple[float, float]:
        """Seconds one may come late and leave early at a session of ``length_s`` seconds and
        still be fully present."""
        cap = self.tolerance_share * length_s
        return (
            min(self.late_tolerance_min * 60, cap),
            min(self.early_leave_tolerance_min * 60, cap),
        )


Who = Literal["all_staff", "new_recruits", "squad_enforcement_staff", "unit_enforcement_staff"]


class Task(_Strict):
    no: int = Field(ge=1)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    owner: Literal["district", "unit"]
    who: Who
    session_kind: SessionKind
    part: str | None = None  # the quota part its credit goes to, if any
    content: str = ""
    assessed: bool = False
    # Per-kind rules; each task kind uses the ones that apply to it.
    min_cohorts: int | None = Field(default=None, ge=1)
    days_per_cohort: int | None = Field(default=None, ge=1)
    hours_per_day: float | None = Field(default=None, gt=0)
    credits_per_day: float | None = Field(default=None, ge=0)
    # A training day counts, and earns its credit, only if its sessions together last this long.
    min_day_minutes: float | None = Field(default=None, gt=0, le=1440)
    days: int | None = Field(default=None, ge=1)
    per_month: int | None = Field(default=None, ge=1)
    per_year: int | None = Field(default=None, ge=1)
    min_minutes: float | None = Field(default=None, gt=0)
    hours_each: float | None = Field(default=None, gt=0)
    min_attendance_share: float | None = Field(default=None, gt=0, le=1)

    def day_share(self, minutes: float) -> float:
        """What share of a training day's credit ``minutes`` of its sessions are worth: all of
        it from the plan's minimum length of a day, in proportion below it."""
        if self.min_day_minutes is None:
            return 1.0
        return min(1.0, minutes / self.min_day_minutes)

    @model_validator(mode="after")
    def _rules_for_kind(self) -> Task:
        needs: dict[SessionKind, tuple[str, ...]] = {
            SessionKind.TRAINING_DAY: (
                "hours_per_day",
                "credits_per_day",
                "min_day_minutes",
                "part",
            ),
            SessionKind.PRACTICAL: ("days",),
            SessionKind.DRILL_ASSESSMENT: ("min_attendance_share",),
            SessionKind.UNIT_STUDY: ("per_month", "min_minutes", "hours_each", "part"),
            SessionKind.DRILL_TRAINING: ("per_month", "min_minutes", "min_attendance_share"),
        }
        missing = [f for f in needs.get(self.session_kind, ()) if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.session_kind.value} task needs {', '.join(missing)}")
        return self


class Requirement(enum.StrEnum):
    COMPULSORY = "compulsory"  # 必修
    COMPULSORY_WITH_REGULATIONS_AND_CASES = "compulsory_with_regulations_and_cases"
    COMPULSORY_PART = "compulsory_part"  # 必修, a named part
    WITH_ACTUAL_WORK = "with_actual_work"  # 结合实际工作学习
    WITH_CASE_DOCUMENTS = "with_case_documents"  # 结合文件案例学习
    MONTHLY_ARTICLES = "monthly_articles"  # 学习 3-4条/月


class StudyItem(_Strict):
    no: int = Field(ge=1)
    title: str = Field(min_length=1)
    doc_no: str
    requirement: Requirement
    applies_to: Literal["all", "adjacent_district"] = "all"
    part: str | None = None
    articles_per_month_min: int | None = Field(default=None, ge=1)
    articles_per_month_max: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _requirement_details(self) -> StudyItem:
        if self.requirement == Requirement.COMPULSORY_PART and not self.part:
            raise ValueError("a compulsory_part item names its part")
        if self.requirement == Requirement.MONTHLY_ARTICLES:
            lo, hi = self.articles_per_month_min, self.articles_per_month_max
            if lo is None or hi is None or lo > hi:
                raise ValueError("monthly_articles needs articles_per_month_min ≤ _max")
        return self


class Watch(_Strict):
    """Credit for watching recordings (the quota parts whose sources include recording_watch).
    Defaults where the plan is silent: 90% watched, at most 2× speed, 45 minutes a 学时."""

    min_share: float = Field(default=0.9, gt=0, le=1)
    max_speed: float = Field(default=2.0, ge=1, le=4)
    minutes_per_hour: float = Field(default=45, gt=0, le=120)
    hours_per_credit: float = Field(default=2, gt=0)


class Recruits(_Strict):
    """Who is a new recruit (新录用人员) in the plan's year, owing the practical training: hired
    from ``hired_from`` to ``hired_to`` (the year's end when left out), both days included."""

    hired_from: date
    hired_to: date | None = None


class Plan(_Strict):
    year: int = Field(ge=2000, le=2100)
    title: str
    document: str = ""
    quota: Quota
    presence: Presence
    tasks: list[Task] = Field(min_length=1)
    study_items: list[StudyItem] = Field(default_factory=list)
    watch: Watch = Field(default_factory=Watch)
    recruits: Recruits

    @model_validator(mode="after")
    def _references(self) -> Plan:
        parts = {p.id for p in self.quota.parts}
        for t in self.tasks:
            if t.part is not None and t.part not in parts:
                raise ValueError(f"task {t.no} ({t.id}) names unknown part {t.part!r}")
        for label, nos in (
            ("task", [t.no for t in self.tasks]),
            ("study item", [s.no for s in self.study_items]),
        ):
            if len(set(nos)) != len(nos):
                raise ValueError(f"{label} numbers repeat: {sorted(nos)}")
        last = self.recruits.hired_to or date(self.year, 12, 31)
        if not self.recruits.hired_from <= last <= date(self.year, 12, 31):
            raise ValueError(
                f"recruits: hired_from {self.recruits.hired_from} to {last} must end by the "
                f"plan year's end"
            )
        kinds = [t.session_kind for t in self.tasks]
        if len(set(kinds)) != len(kinds):
            raise ValueError("two tasks use the same session kind")
        return self

    def is_recruit(self, hired_on: date | None) -> bool:
        last = self.recruits.hired_to or date(self.year, 12, 31)
        return hired_on is not None and self.recruits.hired_from <= hired_on <= last

    def task_for(self, kind: SessionKind) -> Task | None:
        return next((t for t in self.tasks if t.session_kind == kind), None)

    def part(self, part_id: str) -> QuotaPart:
        return next(p for p in self.quota.parts if p.id == part_id)
