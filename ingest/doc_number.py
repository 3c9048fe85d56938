"""文号 (发文字号) as Chinese documents, PDFs and questions write them: ``国发〔2021〕1号``, ``财税[2019]13号``."""

from __future__ import annotations

import re

_CJK = "\u4e00-\u9fff"
# Words that end running text before a 文号 and never occur inside a 机关代字 ("发改办财金规"), so a
# match in "根据国发〔2019〕5号" or "请问国办发〔2019〕5号…" starts at "国". Longest first.
_LEAD_WORDS = (
    *("根据", "依据", "按照", "依照", "参照", "遵照", "对照", "贯彻", "落实", "执行", "实施", "请问", "关于"),
    *("详见", "参见", "引用", "印发", "转发", "批转", "下发", "废止", "文件", "的", "和", "与", "及", "或"),
    *("是", "在", "即", "为", "于", "了", "将", "按", "依", "据", "见", "以", "对", "由", "把", "从", "向"),
    *("等", "年", "月", "日", "号"),
)
_LEAD = "|".join(_LEAD_WORDS)
_AFTER_LEAD = "|".join(f"(?<={w})" for w in _LEAD_WORDS)
# Not the middle of a lead word: after "按" but not in "按照".
_INSIDE_LEAD = "|".join(f"(?<={w[:k]}){w[k:]}" for w in _LEAD_WORDS for k in range(1, len(w)))
DOC_NUMBER = re.compile(
    rf"(?:(?<![{_CJK}])|{_AFTER_LEAD})(?!{_INSIDE_LEAD})(?P<agency>(?:(?!{_LEAD})[{_CJK}]){{1,15}})\s*"
    r"[〔\[［（(【]\s*(?P<year>\d{4})\s*[〕\]］）)】]\s*第?\s*(?P<serial>\d{1,6})\s*[号號]"
)
"""A 文号 as typed, OCR'd or PDF-extracted: ``<机关代字><类别?>〔YYYY〕N号``, with any of 〔〕 [] ［］ （） ()
【】 around the year and stray spaces (``〔2019〕860 号``). A match's ``group(0)``/``span()`` locate the raw
文号 in the text; ``normalize_doc_number`` gives the canonical 〔〕 form. In running text the 机关代字 starts
after punctuation or a word such as 根据/落实/的; over 15 other characters before the bracket give no match.
"""


def normalize_doc_number(s: str) -> str | None:
    """The first 文号 in ``s`` in canonical form: ``"国发[2021]1号"`` -> ``"国发〔2021〕1号"``; else ``None``."""
    m = DOC_NUMBER.search(s)
    return canonical_doc_number(m) if m else None


def canonical_doc_number(m: re.Match[str]) -> str:
    """The canonical 〔〕 form of a :data:`DOC_NUMBER` match."""
    return f"{m['agency']}〔{int(m['year'])}〕{int(m['serial'])}号"
