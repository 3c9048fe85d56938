"""A document's type (通知, 报告, 意见 …), read from the end of its title as official documents name it.

GB/T 9704-2012 lists the kinds of official document (公文种类: 通知, 通报, 报告, 意见, 决定 …); rules and
plans name theirs the same way (…管理办法, …实施方案, …发展规划). A title that names none (a news report
of a notice, a headline) is 其他. Staff filter questions by it (``retriever.filters``).
"""

from __future__ import annotations

import re
from functools import lru_cache

OTHER = "其他"
# No kind ends another, so their order does not matter; 答记者问 and 问答 title explanations (解读).
_KINDS = (
    *("通知", "通报", "报告", "意见", "决定", "决议", "公告", "通告", "公报", "批复", "请示", "函", "纪要", "命令"),
    *("议案", "办法", "规定", "条例", "细则", "方案", "规划", "计划", "纲要", "指南", "指引", "规则", "标准", "解读"),
)
# What may follow the kind word: （试行）, （征求意见稿）, a closing quote or full stop.
_TAIL = re.compile(r"(?:[（(][^（）()]{1,10}[）)]|[\s。”\"》])+$")
_EXPLAINED = re.compile(r"答记者问|问答|答问|解读")


@lru_cache(maxsize=65536)  # asked of every document a filtered question looks at
def doc_type(title: str) -> str:
    """The kind of document ``title`` names (通知, 报告 …), or 其他 when it names none."""
    t = _TAIL.sub("", title.strip())
    if _EXPLAINED.search(t):
        return "解读"
    return next((k for k in _KINDS if t.endswith(k)), OTHER)
