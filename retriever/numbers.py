"""Numbers in policy text: find every quantity mention, normalise it, check answers against quotes.

A mention is ``[approx] number [余/多] [multiplier] [range] [unit] [approx]``, e.g. 约6700万人,
130余个, 2—3个, 90%以上, 百分之十五, 三分之一, 第三次. Rules for the ambiguous cases:

- Arabic digits (ASCII or full-width) always count; a unit is optional. ``1,234``/``1，234`` is one
  number only when every group after the first has exactly three digits. Digits glued to an ASCII
  letter (PM2.5, G20), ``（1）`` and a ``1.``/``1、`` starting a line or following 。；：…
  (enumerations) are not quantities. No signs:
  ``-`` is a range separator; a range needs low <= high (``2023-08-25`` is no range).
- A Chinese numeral counts only when a unit or measure word from ``_UNITS`` follows (两个, 七大,
  十三年, 两到三年), or in 百分之X / X分之Y. So 一是/二是, （一）, 一、, 十三五 are skipped, as are
  fixed words (统一, 唯一, 进一步, 一些, 一起, 一批, 一大批, 新一轮, 一次性 ...: ``_NOT_QUANTITY``),
  runs with no digit (千亿级, 万人, 百年) and vague 数十/几百/上千.
- Ordinals 第X are quantities with unit "第" (第三次 -> 3 第), so a 第几 question can be answered.
- 二三/两三 is the range 2-3; 三成 is 30 %; 百分之十五 is 15 %; 千分之五 is 5 ‰; 三分之一 is 1/3 and
  万分之一 is 0.0001, unit "". 2023年 is a Quantity in 年 with ``is_year``; 近3年 is not a year.
- 百分点 is its own unit, never %. 万元/亿元 normalise to 元 with the value multiplied; 名 -> 人;
  千米 is 公里 (3千米 is 3 km, not 3000 米).
- approx is one of 余 多 约 近 超 以上 左右, or 不超过 不足 至少 以下 以内, or "" (a prefix wins).
- Fidelity (``unsupported_numbers``): a number is supported when a quote has the same value, high
  and unit; approx is ignored; an answer number without a unit matches that value in any unit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

_FULL_WIDTH = str.maketrans("０１２３４５６７８９．，", "0123456789.,")
_DIGIT = "[0-9０-９]"
_ARABIC = rf"(?:{_DIGIT}{{1,3}}(?:[,，]{_DIGIT}{{3}})+(?!{_DIGIT})|{_DIGIT}+)(?:[.．]{_DIGIT}+)?"
_CN_RUN = "(?:[〇零一二两三四五六七八九十百万亿]|千(?![米克瓦]))+"
_NUM = f"(?:{_ARABIC}|{_CN_RUN})"
_MULT = "(?:[十百千]?万亿|[十百千]?万|[十百千]?亿|千(?![米克瓦分])|百(?!分))"
_SEP = "(?:——|[-－—–~～〜至到])"
_SPACE = "[ \u00a0\u3000]?"


def _table(spec: str) -> dict[str, str]:
    """``"a:b c"`` as ``{"a": "b", "c": "c"}``: keeps the long tables below readable."""
    return {key: value or key for key, _, value in (pair.partition(":") for pair in spec.split())}


# surface[:normalised unit]. Longest surfaces are tried first: 个百分点 wins over 个, 千瓦时 over 千瓦.
_UNITS = _table(
    "个百分点:百分点 百分点 % ％:% ‰ 成:% 元 美元 欧元 港元 日元 韩元 英镑 人次 人 名:人 位:人 户 家 所 "
    "个工作日:工作日 工作日 个月:月 个 项 件 条 张 套 辆 台 座 处 只 头 株 棵 批 次 届 部 类 种 支 艘 架 篇 份 "
    "间 栋 级 期 轮 起 宗 笔 "
    "例 岁 周岁:岁 倍 大 周年:年 年 月 日 天 周 小时 分钟 秒 亩 公顷 平方公里 平方千米:平方公里 平方米 立方米 "
    "公里 千米:公里 米 厘米 毫米 吨 公斤 千克:公斤 斤 克 千瓦时 千瓦 兆瓦 度 升"
)
# Generic classifiers: a 多少处 question is fairly answered by 5.6万个 (half credit, like no unit).
_COUNTERS = frozenset(_table("个 处 座 家 所 项 件 条 批 种 类 部 台 套 辆 支 只 间 栋 宗 笔 例"))
# Characters after which a measure word starts another word instead (成为, 大学, 位数, 名单, 次性).
_GUARD = _table(
    "成:为了员本果就功效绩立都熟型长交品不 大:学会力幅众型量家多约体致于小楼厅道数 位:数 名:单称义额牌列 度:过假 次:性"
)
_UNIT = "|".join(re.escape(u) + (f"(?![{_GUARD[u]}])" if u in _GUARD else "") for u in sorted(_UNITS, key=len)[::-1])
# 节约/最近/赶超 are words, not approximations.
_PRE = "(?:大约|约为|(?<![节制契条公预简集违履合特签])约|将近|接近|(?<![最附靠临邻就亲])近|不超过|超过|(?<![赶高])超|逾|不足|不到|至少)"  # noqa: E501
_APPROX = _table("大约:约 约为:约 将近:近 接近:近 超过:超 逾:超 不到:不足 上下:左右")
_HEAD = (
    f"(?P<pre>{_PRE})?(?:(?P<ord>第)(?P<on>{_NUM})(?:{_SPACE}(?P<om>(?:{_UNIT})))?|(?P<fd>{_NUM})分之(?P<fn>{_NUM})"
    f"|(?P<n1>{_NUM})(?P<a1>[余多])?(?:{_SPACE}(?P<m1>{_MULT}))?(?P<a2>[余多])?"
)
_RANGE = f"(?:(?P<p1>[%％])?(?P<sep>{_SEP})(?P<n2>{_NUM})(?P<a3>[余多])?(?P<m2>{_MULT})?)?"
_TAIL = f"(?:{_SPACE}(?P<unit>(?:{_UNIT})))?)(?P<post>以上|左右|以下|以内|上下)?"
_MENTION = re.compile(_HEAD + _RANGE + _TAIL)
_SINGLE = re.compile(_HEAD + _TAIL)
_NOT_QUANTITY = re.compile(
    "统一|唯一|单一|同一|划一|专一|万一|[的这那]一年|进一步|一些|一起|一体|一般|一直|一批|一大|新一轮|一次性|一度|一部分|一头|"
    "一件事|一条龙|一揽子|一系列|一带一路|一切|一定|一致|一样|一旦|一律|一同|一并|一道|一线|一流|五位一体|四人帮"
)
_YEAR_DIGIT = "[0-9０-９〇零一二三四五六七八九]"
_YEAR_RAW = re.compile(f"{_YEAR_DIGIT}{{4}}(?:{_SEP}{_YEAR_DIGIT}{{2,4}})?{_SPACE}年")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_PLACES = {"十": 10, "百": 100, "千": 1000, "万": 10**4, "亿": 10**8}
_CN_CHARS = frozenset(_CN_DIGITS) | frozenset(_PLACES)
_PREFIX_APPROX = frozenset({"约", "近", "超", "不超过", "不足", "至少"})

Range = tuple[Decimal, Decimal | None]


@dataclass(frozen=True, slots=True)
class Quantity:
    """One number mention: ``text[start:end] == raw``; value and high are normalised (5.6万 -> 56000.0)."""

    value: float
    high: float | None
    unit: str
    approx: str
    start: int
    end: int
    raw: str

    @property
    def is_year(self) -> bool:
        """A calendar year (or span of years) written with four digits, such as 2023年 or 二〇二三年."""
        in_range = all(v is None or (1900 <= v < 2100 and v == int(v)) for v in (self.value, self.high))
        return self.unit == "年" and not self.approx and in_range and _YEAR_RAW.fullmatch(self.raw) is not None

    @property
    def key(self) -> tuple[float, float | None, str]:
        """What two mentions must share to state the same number: value, high and unit (approx aside)."""
        return round(self.value, 4), None if self.high is None else round(self.high, 4), self.unit


def _cn_small(s: str) -> Range | None:
    """A Chinese numeral below 万: 十三, 二十五, 一百零五, 三千五 (=3500), 二〇二三, or the range 两三."""
    if not s:
        return None
    if all(c in _CN_DIGITS for c in s):
        digits = [_CN_DIGITS[c] for c in s]
        if len(s) == 1:
            return Decimal(digits[0]), None
        if len(s) == 2 and digits[0] > 0 and digits[1] == digits[0] + 1:
            return Decimal(digits[0]), Decimal(digits[1])
        zero = "〇" in s or "零" in s
        return (Decimal("".join(map(str, digits))), None) if zero or len(s) >= 4 else None
    total, digit, last, zero = 0, None, 0, False
    for c in s:
        if c in "零〇":
            if digit is not None:
                return None
            zero = True
        elif c in _CN_DIGITS:
            if digit is not None:
                return None
            digit = _CN_DIGITS[c]
        else:
            place = _PLACES[c]
            if (last and place >= last) or (digit is None and (c != "十" or total)):
                return None
            total, digit, last, zero = total + (1 if digit is None else digit) * place, None, place, False
    if digit is not None:
        total += digit * (last // 10 if last and not zero else 1)
    return Decimal(total), None


def _cn(s: str) -> Range | None:
    """A Chinese numeral with 万/亿 sections (三千五百万, 两万亿, 一亿零五百万) or a range (两三万)."""
    for big in ("亿", "万"):
        if big in s:
            left, right = s.rsplit(big, 1)
            high_part = _cn(left)
            right = right.lstrip("零〇")
            low_part = _cn(right) if len(right) > 1 else _cn_small(right) if right else (Decimal(0), None)
            if high_part is None or low_part is None or (high_part[1] is not None and right):
                return None
            mult, (low, _) = _PLACES[big], low_part
            if len(right) == 1 and s[-2:] != "零" + right:
                low *= mult // 10  # 三万五 is 35000, as 三千五 is 3500
            return high_part[0] * mult + low, None if high_part[1] is None else high_part[1] * mult
    return _cn_small(s)


def _number(s: str) -> Range | None:
    if s[0] in "0123456789０１２３４５６７８９":
        return Decimal(s.translate(_FULL_WIDTH).replace(",", "")), None
    return _cn(s)


def _mult(s: str | None) -> int:
    result = 1
    for c in s or "":
        result *= _PLACES[c]
    return result


def _quantity(m: re.Match[str], value: Range, unit: str, approx: str) -> Quantity:
    high = None if value[1] is None else float(value[1])
    return Quantity(float(value[0]), high, unit, approx, m.start(), m.end(), m.group())


_ITEM_BEFORE = "\n 。；;！？!?…：:"


def _skipped(text: str, m: re.Match[str], number: str) -> bool:
    """Whether the number at ``m`` is not a quantity by the rules in the module docstring."""
    s, e = m.span(number)
    before, after = text[s - 1 : s], text[e : e + 1]
    if m.group(number)[0] in "0123456789０１２３４５６７８９":
        near = text[max(0, s - 2) : s].strip()[-1:]
        glued = any(c.isascii() and c.isalpha() for c in (before, near))  # PM2.5, PM 2.5, G20
        # A list marker starts a line or follows a sentence or clause end (…。1、…, 要求：1.…).
        enumerated = (before in "（(" and after in "）)") or ((s == 0 or before in _ITEM_BEFORE) and after in ".．、")
        return glued or enumerated
    if not any(_CN_DIGITS.get(c) or c == "十" for c in m.group(number)):  # 千亿级, 万人, 零部件
        return True
    if before and before in "数几上成" and m.group(number)[0] in "十百千万亿":
        return True
    return any(w.start() <= s < w.end() for w in _NOT_QUANTITY.finditer(text, max(0, s - 3), s + 5))


def _approx(g: dict[str, str | None]) -> str:
    pre, post = g["pre"], g["post"]
    mid = g.get("a1") or g.get("a2") or g.get("a3")
    return _APPROX.get(pre or "", pre) or mid or _APPROX.get(post or "", post) or ""


def _scale(value: Range, factor: int) -> Range:
    return value[0] * factor, None if value[1] is None else value[1] * factor


def _range(text: str, m: re.Match[str], first: Range, mult: int) -> Range | None:
    """The range ``n1 sep n2`` scaled by its multipliers (2-3万 is 2万-3万), or None when it is none."""
    g, second = m.groupdict(), _number(m.group("n2"))
    mult2, n1 = _mult(g["m2"]), m.start("n1")
    if second is None or second[1] is not None or first[1] is not None:
        return None
    if g["m1"] is None and first[0] <= second[0]:
        mult = mult2
    chained = g["sep"] in "-－" and bool({"-", "－"} & {text[n1 - 1 : n1], text[m.end() : m.end() + 1]})  # a date
    percent = g["p1"] is not None and g["unit"] not in ("%", "％")  # 2%-3
    low, high = first[0] * mult, second[0] * mult2
    return None if chained or percent or low > high else (low, high)


def _main(text: str, m: re.Match[str]) -> Quantity | None:
    g = m.groupdict()
    first = _number(g["n1"])
    if first is None or _skipped(text, m, "n1") or (g["unit"] is None and g["n1"][0] in _CN_CHARS):
        return None
    mult = _mult(g["m1"])
    value = _scale(first, mult) if g.get("n2") is None else _range(text, m, first, mult)
    if value is None:  # not a range after all: 2023-08-25, 2万-3
        single = _SINGLE.match(text, m.start())
        return None if single is None else _main(text, single)
    unit = _UNITS.get(g["unit"] or "", "")
    return _quantity(m, _scale(value, 10 if g["unit"] == "成" else 1), unit, _approx(g))


def _ordinal(text: str, m: re.Match[str]) -> Quantity | None:
    value = _number(m.group("on"))
    if value is None or value[1] is not None:
        return None
    return _quantity(m, value, "第", _approx(m.groupdict()))


def _fraction(text: str, m: re.Match[str]) -> Quantity | None:
    fd = m.group("fd")
    den = (Decimal(_PLACES[fd]), None) if fd in ("百", "千", "万") else _number(fd)
    num = _number(m.group("fn"))
    if den is None or num is None or den[1] is not None or num[1] is not None or den[0] == 0:
        return None
    unit = {100: "%", 1000: "‰"}.get(int(den[0]), "")
    value = num[0] if unit else num[0] / den[0]
    return _quantity(m, (value, None), unit, _approx(m.groupdict()))


def quantities(text: str) -> list[Quantity]:
    """Every number mention in ``text``, in order, with ``text[q.start:q.end] == q.raw``.

    Examples: 5.6万个 -> 56000 个; 1.2亿元 -> 1.2e8 元; 2—3个 -> 2..3 个; 百分之十五 -> 15 %;
    下降0.5个百分点 -> 0.5 百分点; 130余个 -> 130 个, approx 余; 两个确保 -> 2 个; 一是 -> nothing.
    """
    found: list[Quantity] = []
    pos = 0
    while (m := _MENTION.search(text, pos)) is not None:
        group = "on" if m.group("ord") else "fd" if m.group("fd") else "n1"
        build = _ordinal if group == "on" else _fraction if group == "fd" else _main
        q = build(text, m)
        if q is None:
            pos = max(m.start() + 1, m.end(group))  # skip the whole numeral run: 十三五期间 is not 五期
        else:
            found.append(q)
            pos = q.end
    return found


def _fmt(x: float) -> str:
    return format(Decimal(str(round(x, 4))).normalize(), "f")


def canonical(q: Quantity) -> str:
    """The matching form of one mention: 约56000个, 2-3个, 15%以上, 第3 (approx kept where Chinese puts it)."""
    number = _fmt(q.value) + ("" if q.high is None else "-" + _fmt(q.high))
    if q.unit == "第":
        return "第" + number
    pre, mid = (q.approx, "") if q.approx in _PREFIX_APPROX else ("", q.approx if q.approx in "余多" else "")
    post = "" if pre or mid else q.approx
    return f"{pre}{number}{mid}{q.unit}{post}"


def normalize_number_text(text: str) -> str:
    """``text`` with every quantity replaced by its canonical form (lengths change; never use for offsets)."""
    parts, last = [], 0
    for q in quantities(text):
        parts += [text[last : q.start], canonical(q)]
        last = q.end
    return "".join([*parts, text[last:]])


def unsupported_numbers(answer: str, quotes: Sequence[str]) -> list[Quantity]:
    """The quantities of ``answer`` that no quote states: the number fidelity check.

    A quote supports a mention with the same value, high and unit after normalisation (5.6万个 ==
    56000个; 87% != 85%; 3个百分点 != 3%); the approximation marker is ignored. A mention without
    a unit in the answer is supported by the same value with any unit.
    """
    keys = {q.key for quote in quotes for q in quantities(quote)}
    values = {k[:2] for k in keys}
    return [q for q in quantities(answer) if q.key not in keys and (q.unit or q.key[:2] not in values)]
