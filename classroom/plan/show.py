"""Plain-text views: a plan, and tables of report rows (for the terminal)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from classroom.plan.schema import Plan


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Aligned columns; Chinese characters count double, as terminals draw them."""
    cells = [[str(c) for c in columns]] + [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(columns))]
    lines = [
        "  ".join(_pad(v, w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def describe_plan(plan: Plan) -> str:
    q = plan.quota
    out = [
        f"{plan.year}  {plan.title}  {plan.document}".rstrip(),
        "",
        f"年度任务 quota: {q.hours:g} 学时 / {q.credits:g} 学分",
    ]
    for p in q.parts:
        cmp = "≥ " if p.at_least else ""
        out.append(
            f"  - {p.name} ({p.id}): {cmp}{p.hours:g} 学时 / {cmp}{p.credits:g} 学分"
            f"  ← {', '.join(s.value for s in p.sources)}"
        )
    pr = plan.presence
    out += [
        "",
        f"出勤规则 presence: late ≤ {pr.late_tolerance_min:g} min, early leave ≤ "
        f"{pr.early_leave_tolerance_min:g} min, each at most {pr.tolerance_share:.0%} of the "
        f"session, and ≥ {pr.min_share:.0%} present; otherwise ≥ {pr.min_share:.0%} present → "
        f"{'pro-rated' if pr.partial == 'prorate' else 'nothing'}",
        f"回放学习 watching: ≥ {plan.watch.min_share:.0%} played at ≤ {plan.watch.max_speed:g}×; "
        f"1 学时 per {plan.watch.minutes_per_hour:g} min, 1 学分 per "
        f"{plan.watch.hours_per_credit:g} 学时 (or what the session's task earns)",
        f"新录用人员 recruits: hired {plan.recruits.hired_from} – "
        f"{plan.recruits.hired_to or f'{plan.year}-12-31'}",
        "",
        "附件1 tasks:",
    ]
    for t in plan.tasks:
        rules = {
            k: v
            for k, v in t.model_dump().items()
            if k
            in (
                "min_cohorts",
                "days_per_cohort",
                "hours_per_day",
                "credits_per_day",
                "days",
                "per_month",
                "per_year",
                "min_minutes",
                "hours_each",
                "min_attendance_share",
            )
            and v is not None
        }
        rule_text = ", ".join(f"{k}={v:g}" for k, v in rules.items())
        assessed = ", 考核 assessed" if t.assessed else ""
        out.append(
            f"  {t.no}. {t.name} [{t.session_kind.value}] {t.owner}/{t.who}: {rule_text}{assessed}"
        )
        if t.content:
            out.append(f"      {t.content}")
    out += ["", "附件2 study items:"]
    for i in plan.study_items:
        extra = ""
        if i.applies_to != "all":
            extra = f" (only {i.applies_to})"
        if i.articles_per_month_min:
            extra += f" ({i.articles_per_month_min}–{i.articles_per_month_max} articles/month)"
        if i.part:
            extra += f" (part: {i.part})"
        out.append(f"  {i.no:>2}. {i.doc_no or '—'}  {i.requirement.value}{extra}")
        out.append(f"      {i.title}")
    return "\n".join(out)
