"""What a refusal says to a person: in their language, about the field it concerns, with times
in the bureau's zone. The JSON API keeps its own detail; this is for pages and their forms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from web.i18n import LOCAL_MINUTE, catalog, translate

# A check on the whole form (a model validator) is about one field a person would correct.
FIELD_OF = {
    "end_before_start": "planned_end",
    "session_too_long": "planned_end",
    "room_or_place": "place",
    "record_needs_room": "classroom_id",
}
_WHERE = {"body", "query", "path", "form"}


@dataclass(frozen=True)
class Refusal:
    message: str
    field: str | None = None


def local_times(params: Mapping[str, Any], tz: tzinfo) -> dict[str, Any]:
    """ISO date-times among a detail's fields, as a person reads them: 2026-12-04 22:37."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and "T" in value:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                out[name] = value
                continue
            if moment.tzinfo is not None:
                moment = moment.astimezone(tz)
            out[name] = moment.strftime(LOCAL_MINUTE)
        else:
            out[name] = value
    return out


def of_detail(lang: str, status: int, detail: object, tz: tzinfo) -> Refusal:
    """An HTTPException's detail. One with a code the catalog knows is said from the catalog;
    a permission refusal by its title alone (the role names are not for the reader); any other
    under its status's title."""
    if isinstance(detail, dict) and isinstance(detail.get("code"), str):
        key = f"error.{detail['code']}"
        field = detail.get("field") if isinstance(detail.get("field"), str) else None
        if key in catalog(lang):
            return Refusal(translate(lang, key, **local_times(detail, tz)), field)
        detail = detail.get("message", "")
    title = translate(lang, f"error.{status}") if f"error.{status}" in catalog(lang) else ""
    title = title or translate(lang, "error.other")
    if status in (401, 403) or not detail:
        return Refusal(title)
    return Refusal(f"{title}: {detail}")


def of_validation(lang: str, errors: Sequence[Mapping[str, Any]]) -> Refusal:
    """The first of a request's validation errors, said for the field it is about."""
    if not errors:
        return Refusal(translate(lang, "invalid.other"))
    first = errors[0]
    kind = str(first.get("type", ""))
    loc = [p for p in first.get("loc", ()) if isinstance(p, str) and p not in _WHERE]
    field = loc[-1] if loc else FIELD_OF.get(kind)
    key = f"invalid.{kind}"
    params = {k: v for k, v in (first.get("ctx") or {}).items() if isinstance(v, str | int | float)}
    if key in catalog(lang):
        try:
            return Refusal(translate(lang, key, **params), field)
        except (KeyError, IndexError):
            pass
    return Refusal(translate(lang, "invalid.other"), field)
