"""Dates as Chinese documents write them: ``2019年7月23日``, ``2019-07-23``, ``二〇一九年七月二十三日``."""

from __future__ import annotations

import re
from datetime import date

_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"○": 0, "零": 0, "O": 0, "Ｏ": 0}
DATE = re.compile(
    r"(?<!\d)(?P<y>\d{4})\s*(?:年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"
    r"|(?P<sep>[-/.])\s*(?P<m2>\d{1,2})\s*(?P=sep)\s*(?P<d2>\d{1,2})(?!\d))"
    r"|(?P<cy>[〇○零OＯ一二三四五六七八九]{4})\s*年\s*(?P<cm>[一二三四五六七八九十]{1,3})\s*月"
    r"\s*(?P<cd>[一二三四五六七八九十]{1,3})\s*日"
)
"""A date anywhere in a string; ``match_date`` turns a match into a ``date``."""


def parse_chinese_date(s: str) -> date | None:
    """Parse a string that is exactly one date, written the ways Chinese documents write dates.

    Handles ``2019年7月23日``, ``2019年07月23日``, ``2019 年 7 月 23 日``, ``2019-07-23`` (or ``/``, ``.``)
    and ``二〇一九年七月二十三日``. Returns ``None`` unless ``s``, stripped, is exactly one valid date.
    """
    m = DATE.fullmatch(s.strip())
    return match_date(m) if m else None


def match_date(m: re.Match[str]) -> date | None:
    """The date of a :data:`DATE` match; ``None`` if it is no valid date (``2019年2月30日``)."""
    if m["cy"]:
        year = int("".join(str(_CN_DIGITS[c]) for c in m["cy"]))
        month, day = _chinese_small_number(m["cm"]), _chinese_small_number(m["cd"])
    else:
        year, month, day = int(m["y"]), int(m["m"] or m["m2"]), int(m["d"] or m["d2"])
    if month is None or day is None:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _chinese_small_number(s: str) -> int | None:
    """``"七"`` -> 7, ``"十二"`` -> 12, ``"二十三"`` -> 23; ``None`` for anything else."""
    if len(s) == 1 and s in _CN_DIGITS:
        return _CN_DIGITS[s]
    tens, ten, ones = s.partition("十")
    if not ten or len(tens) > 1 or len(ones) > 1 or any(c not in _CN_DIGITS for c in tens + ones):
        return None
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
