"""Due dates and late penalties: `tito release MODULE --due "2026-12-10 23:59" --late-penalty 1/hour`.

Timezone rule: a due date (or a submission time) without a zone is a local time of the machine running
tito (its `TZ`); one with a zone (`2026-12-10 23:59 -05:00`, `...Z`) means exactly that. Everything is
stored in UTC, as nbgrader does: the due date in the gradebook's assignment, each submission's time in
its `timestamp.txt`; nbgrader then computes how late a submission is.

The penalty policy per module lives in the course's nbgrader_config.py (`c.LatePenalty.policies`),
read by tito's `LatePenalty` plugin for nbgrader's `AssignLatePenalties` (tito/grading/late.py), so
plain `nbgrader autograde` applies the same penalties.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from tito.course.layout import Course
from tito.project import Module, TitoError

POLICIES_SETTING = "LatePenalty.policies"
PLUGIN_SETTING = "AssignLatePenalties.plugin_class"
PLUGIN = "tito.grading.late.LatePenalty"
RATE = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)(?P<percent>%?)\s*/\s*(?P<unit>hour|day)$")
UNIT_SECONDS = {"hour": 3600, "day": 86400}


def parse_time(text: str) -> datetime:
    """An aware datetime; a time without a zone is local (see the module's timezone rule)."""
    from dateutil import parser

    try:
        parsed = parser.parse(text)
    except (ValueError, OverflowError) as error:
        raise TitoError(f"cannot read the date {text!r} ({error}); write it as \"2026-12-10 23:59\"") from None
    return parsed if parsed.tzinfo else parsed.astimezone()  # naive -> this machine's local time


def utc_naive(moment: datetime) -> datetime:
    """The form nbgrader stores: UTC without tzinfo."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def lateness(seconds: float) -> str:
    """'2h 13m', '1d 4h 0m', '45s': how late, rounded down to the minute."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return (f"{days}d " if days else "") + f"{hours}h {minutes}m"


@dataclass(frozen=True)
class LatePolicy:
    """'none', 'zero', or so many points (or percent of the maximum) per started hour or day."""

    text: str

    def __post_init__(self) -> None:
        if self.text not in ("none", "zero") and not RATE.match(self.text):
            raise TitoError(
                f"unknown late penalty {self.text!r}; use none, zero, POINTS/hour, POINTS/day, PERCENT%/hour or "
                "PERCENT%/day (e.g. 1/hour: one point off per started hour late; 10%/day: a tenth of the maximum per started day)"
            )

    def penalty(self, score: float, max_score: float, seconds_late: float) -> float:
        """Points off (nbgrader caps them at the score)."""
        if seconds_late <= 0 or self.text == "none":
            return 0.0
        if self.text == "zero":
            return float(score)
        rate = RATE.match(self.text)
        units = math.ceil(seconds_late / UNIT_SECONDS[rate["unit"]])
        amount = float(rate["amount"]) * (max_score / 100.0 if rate["percent"] else 1.0)
        return min(float(score), units * amount)


def set_deadline(course: Course, module: Module, due: str | None, penalty: str | None) -> str:
    """Store the due date in the gradebook and the penalty in the course config; returns a summary line."""
    from tito.grading.gradebook import gradebook

    notes = []
    if penalty is not None:
        LatePolicy(penalty)  # refuses a bad policy before anything is written
    if due is not None:
        moment = parse_time(due)
        with gradebook(course) as gb:
            gb.update_or_create_assignment(module.id, duedate=utc_naive(moment))
        notes.append(f"due {moment:%Y-%m-%d %H:%M} (UTC{moment:%z}) = {utc_naive(moment):%Y-%m-%d %H:%M} UTC")
    if penalty is not None:
        policies = dict(course.managed_settings().get(POLICIES_SETTING) or {})
        policies[module.id] = penalty
        course.set_managed(PLUGIN_SETTING, PLUGIN)
        course.set_managed(POLICIES_SETTING, policies)
        notes.append(f"late penalty {penalty}")
    return ", ".join(notes)


def policy_for(course: Course, module_id: str) -> LatePolicy:
    return LatePolicy((course.managed_settings().get(POLICIES_SETTING) or {}).get(module_id, "none"))
