"""Times as people read them: in the company's zone, never "06:00 UTC".

Everything is stored in UTC; every text a person reads (errors, conflicts, unassigned reasons,
admin pages) goes through these helpers with the company's zone.
"""

from __future__ import annotations

from datetime import datetime, tzinfo


def format_local(moment: datetime, tz: tzinfo, *, with_date: bool = False) -> str:
    """`moment` in `tz` as "07:30" (or "2026-12-02 07:30" with the date)."""
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")
