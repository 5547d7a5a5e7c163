"""Dates written in 14 human formats, paired with their ISO 8601 form.

The seq2seq recipes' default data: a character-level mapping that must find, convert and
reorder the year, month and day, so attention visibly aligns. A deterministic function of its
seed.
"""

import datetime
import random

from kzoo import validation

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _ordinal(day):
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


# Every format is unambiguous: names spell the month, and the only all-digit formats are
# day.month.year (dots, day always first) and year/month/day (slashes, year always first).
_DATE_FORMATS = (
    lambda d, M, m, W, w: f"{d.day} {M} {d.year}",  # 21 November 2026
    lambda d, M, m, W, w: f"{M} {d.day}, {d.year}",  # November 21, 2026
    lambda d, M, m, W, w: f"{m} {d.day}, {d.year}",  # Nov 21, 2026
    lambda d, M, m, W, w: f"{d.day} {m} {d.year}",  # 21 Nov 2026
    lambda d, M, m, W, w: f"{W}, {M} {d.day} {d.year}",  # Saturday, November 21 2026
    lambda d, M, m, W, w: f"{W} {d.day} {M} {d.year}",  # Saturday 21 November 2026
    lambda d, M, m, W, w: f"{w}, {d.day:02d} {m} {d.year}",  # Sat, 21 Nov 2026
    lambda d, M, m, W, w: f"the {_ordinal(d.day)} of {M}, {d.year}",  # the 21st of November, 2026
    lambda d, M, m, W, w: f"{M} {_ordinal(d.day)}, {d.year}",  # November 21st, 2026
    lambda d, M, m, W, w: f"{W} the {_ordinal(d.day)} of {M} {d.year}",  # Saturday the 21st of ...
    lambda d, M, m, W, w: f"{d.day:02d}.{d.month:02d}.{d.year}",  # 21.11.2026
    lambda d, M, m, W, w: f"{d.year}/{d.month:02d}/{d.day:02d}",  # 2026/11/21
    lambda d, M, m, W, w: f"{d.day:02d}-{m.upper()}-{d.year}",  # 21-NOV-2026
    lambda d, M, m, W, w: f"{m}. {d.day}, {d.year}",  # Nov. 21, 2026
)
_FIRST_DAY = datetime.date(1900, 1, 1).toordinal()
_LAST_DAY = datetime.date(2099, 12, 31).toordinal()


def date_pairs(num_examples=20000, seed=0):
    """Human-readable dates paired with their ISO 8601 form, for character-level seq2seq.

    Dates are drawn uniformly from 1900-01-01 to 2099-12-31 and written in one of 14 formats
    ("21 November 2026", "Nov 21, 2026", "saturday, november 21 2026", "the 21st of November,
    2026", "21.11.2026", "21-NOV-2026"...), in their own case, lower case (30%) or upper case
    (10%). Month and weekday names are English whatever the locale. Targets are
    `date.isoformat()`, e.g. "2026-11-21". Every format is unambiguous (no all-digit
    month-first or day-first ambiguity, no two-digit years), so the mapping is a function.

    A model must find the year, month and day wherever the format puts them, map month names
    (and their abbreviations, ordinals and cases) to numbers and reorder them: attention
    visibly aligns each output digit with its source characters.

    Args:
        num_examples: int. Number of pairs. Defaults to `20000`.
        seed: int. Random seed; the same seed gives the same pairs. Defaults to `0`.

    Returns:
        A tuple `(sources, targets)` of two lists of `str`.

    Example:

    >>> sources, targets = date_pairs(num_examples=3, seed=0)
    >>> all(len(t) == 10 and t[4] == t[7] == "-" for t in targets)
    True
    """
    validation.positive_int("num_examples", num_examples)
    rng = random.Random(seed)
    sources, targets = [], []
    for _ in range(num_examples):
        date = datetime.date.fromordinal(rng.randint(_FIRST_DAY, _LAST_DAY))
        month, weekday = _MONTHS[date.month - 1], _WEEKDAYS[date.weekday()]
        text = rng.choice(_DATE_FORMATS)(date, month, month[:3], weekday, weekday[:3])
        case = rng.random()
        if case < 0.3:
            text = text.lower()
        elif case < 0.4:
            text = text.upper()
        sources.append(text)
        targets.append(date.isoformat())
    return sources, targets
