"""The one clock of the application, in local time (M2).

The 20th-of-month rules depend on today's date, so tests and the demo hold the clock at a chosen
moment (setting SHEBAO_NOW, or ``freeze``) instead of patching datetime.
"""

from __future__ import annotations

import datetime as dt

from domain.months import LOCAL_TZ, Month

_frozen: dt.datetime | None = None


def parse_moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


def freeze(moment: dt.datetime | str | None) -> None:
    """Hold the clock at ``moment`` (naive means local time); None lets it run again."""
    global _frozen
    _frozen = parse_moment(moment) if isinstance(moment, str) else moment
    if _frozen is not None and _frozen.tzinfo is None:
        _frozen = _frozen.replace(tzinfo=LOCAL_TZ)


def now() -> dt.datetime:
    """The current moment in Asia/Shanghai."""
    if _frozen is not None:
        return _frozen.astimezone(LOCAL_TZ)
    return dt.datetime.now(LOCAL_TZ)


def today() -> dt.date:
    return now().date()


def this_month() -> Month:
    return Month.of(today())
