"""Tests for retriever.followup: follow-up questions made whole from the questions before them."""

from __future__ import annotations

import pytest

from retriever.config import MAX_QUESTION_CHARS
from retriever.followup import resolve


@pytest.mark.parametrize(
    ("history", "question", "resolved"),
    [
        ([], "那贵州呢？", "那贵州呢？"),  # nothing to read it against
        (["重庆脱贫人口收入是多少"], "那贵州呢？", "贵州脱贫人口收入是多少"),  # another place
        (["全国城镇新增就业目标是多少"], "那湖北呢", "湖北城镇新增就业目标是多少"),  # 全国 is replaced too
        (["2025年政府工作报告提出的GDP增长目标是多少"], "2024年呢", "2024年政府工作报告提出的GDP增长目标是多少"),
        (["重庆2025年地区生产总值增长目标是多少"], "湖北的目标呢", "湖北2025年地区生产总值增长目标是多少"),
        (["重庆2025年地区生产总值增长目标是多少"], "城镇新增就业呢", "重庆2025年城镇新增就业是多少"),  # a subject
        (["九江市的复工措施有哪些"], "该市的公积金政策呢", "九江市公积金政策有哪些"),
        (["重庆脱贫人口收入是多少"], "它比全国高多少？", "重庆脱贫人口收入比全国高多少？"),  # a pronoun
        (["重庆脱贫人口收入是多少", "那贵州呢？"], "它比全国高多少？", "贵州脱贫人口收入比全国高多少？"),  # 3 turns
        (["四川2024年GDP增长了多少"], "比全国高多少？", "四川2024年GDP增长比全国高多少？"),  # a fragment
        (["四川2024年技术合同成交额是多少", "湖北呢"], "它今年的目标是多少？", "湖北技术合同成交额今年的目标是多少？"),
        (["2025年城乡居民基础养老金提高多少"], "2024年提高了多少", "城乡居民基础养老金提高2024年提高了多少"),
        (["北京今年要打通多少条断头路"], "停车位要建多少个", "北京今年停车位要建多少个"),  # keeps the scope
        (["贵州怎样打造全国算力高地"], "具体有哪些措施", "贵州打造全国算力高地具体有哪些措施"),  # a detail
        (["重庆脱贫人口收入是多少"], "四川房租减免几个月", "四川房租减免几个月"),  # a question of its own
        (["个人所得税纳税信用建设要坚持哪些原则"], "信用修复有哪些方式", "信用修复有哪些方式"),
    ],
)
def test_a_follow_up_is_read_against_the_questions_before_it(history: list[str], question: str, resolved: str) -> None:
    assert resolve(question, history) == resolved


def test_a_follow_up_made_into_nothing_is_asked_as_typed() -> None:
    assert resolve("其中", ["哪些？"]) == "其中"
    assert resolve("其中？", ["有哪些"]) == "其中？"


def test_a_follow_up_too_long_to_be_asked_whole_is_asked_as_typed() -> None:
    long_subject = "重庆" + "乡村振兴" * (MAX_QUESTION_CHARS // 4) + "是多少"
    assert resolve("它比全国高多少", [long_subject]) == "它比全国高多少"
