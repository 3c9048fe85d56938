"""Tests for ingest.clean: the real seed page and hand-written scraped pages, no mocks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from ingest.clean import CleanResult, clean_text

SEED = Path(__file__).resolve().parents[2] / "seeds" / "docs" / "000_19bb4dc3562be137.txt"
# 1-based line numbers of the article in the seed; line 4 and lines 13 onwards are page chrome.
SEED_ARTICLE_LINES = (1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12)
TIMESTAMP_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")


@dataclass(frozen=True, slots=True)
class Page:
    """A scraped page and what cleaning must make of it."""

    name: str
    raw: str
    article: tuple[str, ...]
    published: date | None
    author: str


def _seed_raw() -> str:
    return SEED.read_text(encoding="utf-8")


def _seed_article() -> tuple[str, ...]:
    lines = _seed_raw().splitlines()
    return tuple(lines[n - 1].strip() for n in SEED_ARTICLE_LINES)


GOV_NOTICE_ARTICLE = (
    "关于做好2024年春季农业生产工作的通知",
    "农办农〔2024〕3号",
    "各省、自治区、直辖市农业农村厅（局、委）：",
    "为切实抓好春季农业生产，确保粮食和重要农产品稳定安全供给，现就有关工作通知如下。",
    "一、压实粮食生产责任",
    (
        "各地要将粮食播种面积和产量目标任务分解落实到县、乡，层层压实责任，确保春播面积只增不减，"
        "早稻面积稳中有增，为全年粮食丰收打好基础。"
    ),
    "二、抓好农资保供稳价",
    (
        "（一）加强调度监测。密切跟踪化肥、农药、种子等农资生产流通和价格变化，及时发布供需信息，"
        "防止出现区域性、阶段性短缺。"
    ),
    "农业农村部办公厅",
    "2024年2月28日",
    "（此件公开发布）",
)
GOV_NOTICE = Page(
    name="gov.cn-style notice",
    raw="\n".join(
        [
            "首页 > 政策 > 最新",
            "",
            GOV_NOTICE_ARTICLE[0],
            "发布时间：2024-03-01 10:00  来源：农业农村部办公厅",
            "【字号：大 中 小】",
            *(f"\u3000\u3000{line}  " for line in GOV_NOTICE_ARTICLE[1:]),
            "",
            "打印本页 关闭窗口",
            "扫一扫在手机打开当前页",
            "【我要纠错】 责任编辑：李明",
            "版权所有：中国政府网 | 中华人民共和国国务院办公厅 主办",
            "网站标识码bm01000001 京ICP备05070218号 京公网安备11010202000001号",
            "网站地图 | 联系我们",
        ]
    ),
    article=GOV_NOTICE_ARTICLE,
    published=date(2024, 3, 1),
    author="",
)

NEWS_ARTICLE = (
    "青山市政府常务会议研究部署推动大规模设备更新",
    (
        "本报讯 3月1日，青山市市长主持召开市政府常务会议，"
        "研究部署推动大规模设备更新和消费品以旧换新工作，审议通过有关政策文件。"
    ),
    (
        "会议指出，推动新一轮大规模设备更新和消费品以旧换新，是着眼高质量发展大局作出的重要部署，"
        "要坚持市场为主、政府引导，鼓励先进、淘汰落后。"
    ),
    "会议还研究了其他事项。",
)
NEWS_PAGE = Page(
    name="news page with a related-news list",
    raw="\n".join(
        [
            "青山新闻网 > 时政 > 正文",
            NEWS_ARTICLE[0],
            "2024-03-02 08:30:15 来源：青山日报",
            *NEWS_ARTICLE[1:],
            "（记者 陈晓）",
            "【纠错】 责任编辑：王一",
            "相关新闻",
            "青山市召开第五次全体会议",
            "2024-02-28 16:20",
            "市政府常务会议研究部署提升消费能力",
            "2024-02-23 18:02",
            "青山市加快推进新型工业化",
            "2024-02-19 20:11",
            "分享到：微信 微博 QQ空间",
            "Copyright © 2000-2024 qingshan.example.cn All Rights Reserved.",
        ]
    ),
    article=NEWS_ARTICLE,
    published=date(2024, 3, 2),
    author="记者 陈晓",
)

MEETING_ARTICLE = (
    "青山市部署巩固拓展脱贫攻坚成果六项重点任务",
    "2023年8月24日，青山市召开巩固拓展脱贫攻坚成果同乡村振兴有效衔接工作推进会议。",
    (
        "会议指出，当前巩固拓展脱贫攻坚成果五年过渡期已经过半，各级各部门要坚决守住不发生规模性返贫的底线，"
        "推动乡村全面振兴。"
    ),
    "六项重点任务具体为:",
    "一、坚决守牢防止返贫致贫底线",
    "二、打造特色生态产业",
    "三、深化强村富民综合改革",
    "四、推动宜居宜业和美乡村建设",
    "五、整改考核评估发现问题",
    "六、凝聚协作帮扶合力",
    "会议要求，各区县要对照任务清单逐项细化措施，明确责任单位和完成时限，确保各项任务在年底前取得明显成效。",
)
MEETING_PAGE = Page(
    name="news page with numbered tasks and a dated sentence",
    raw="\n".join(
        [
            MEETING_ARTICLE[0],
            "原标题：青山市召开巩固拓展脱贫攻坚成果同乡村振兴有效衔接工作推进会",
            "发布日期：2023年08月25日  来源：青山日报",
            "记者 张三 通讯员 李四",
            *MEETING_ARTICLE[1:3],
            "（图为会议现场。张三 摄）",
            *MEETING_ARTICLE[3:],
            "本文来源：青山日报 转载请注明出处",
            "上一篇：青山市启动2023年农村人居环境整治提升行动",
            "下一篇：最后一页",
        ]
    ),
    article=MEETING_ARTICLE,
    published=date(2023, 8, 25),
    author="记者 张三 通讯员 李四",
)

UNMARKED_LIST_ARTICLE = (
    "青山市出台促进民营经济发展若干措施",
    "日期：2024-02-20",
    (
        "为进一步优化民营经济发展环境，青山市日前出台促进民营经济发展若干措施，从市场准入、要素保障、"
        "融资支持等方面提出二十条具体举措。"
    ),
)
UNMARKED_LIST_PAGE = Page(
    name="page whose headline list has no heading",
    raw="\n".join(
        [
            "当前位置：首页 >> 新闻中心",
            *UNMARKED_LIST_ARTICLE,
            "(资料图片仅供参考)",
            "青山市2024年春耕备耕工作全面展开 2024-03-01",
            "青山市召开优化营商环境大会 2024-02-27",
            "青山市发布促进民营经济发展十条措施 [2024-02-20]",
        ]
    ),
    # "日期：2024-02-20" alone is a byline line, so it goes; it is listed here only to be removed.
    article=(UNMARKED_LIST_ARTICLE[0], UNMARKED_LIST_ARTICLE[2]),
    published=date(2024, 2, 20),
    author="",
)

PAGES = (GOV_NOTICE, NEWS_PAGE, MEETING_PAGE, UNMARKED_LIST_PAGE)
SEED_PAGE = Page(
    name="seed 000",
    raw=_seed_raw(),
    article=_seed_article(),
    published=None,
    author="农民日报·中国农网记者 邓俐",
)


def test_seed_article_is_kept_verbatim_and_nothing_else() -> None:
    result = clean_text(_seed_raw())
    article = _seed_article()
    for line in article:
        assert line in result.text
    assert result.text == "\n".join(article)


def test_seed_chrome_is_removed_and_never_survives_in_the_text() -> None:
    result = clean_text(_seed_raw())
    assert result.removed, "the seed has chrome to remove"
    for line in result.removed:
        assert line not in result.text
    assert "原标题" not in result.text
    assert "标签" not in result.text
    assert "上一篇" not in result.text
    assert "本网" not in result.text
    assert "(资料图片仅供参考)" in result.removed
    assert not any(TIMESTAMP_LINE.match(line) for line in result.text.split("\n"))


def test_seed_removed_lines_and_kept_lines_together_are_the_whole_page() -> None:
    raw_lines = [line.strip() for line in _seed_raw().splitlines() if line.strip()]
    result = clean_text(_seed_raw())
    assert sorted(result.text.split("\n") + list(result.removed)) == sorted(raw_lines)


def test_seed_author_comes_from_its_byline() -> None:
    assert clean_text(_seed_raw()).author == "农民日报·中国农网记者 邓俐"


def test_seed_headline_timestamps_are_not_taken_as_the_publication_date() -> None:
    assert clean_text(_seed_raw()).published is None


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_scraped_page_keeps_exactly_its_article_lines(page: Page) -> None:
    assert clean_text(page.raw).text == "\n".join(page.article)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_scraped_page_byline_gives_author_and_publication_date(page: Page) -> None:
    result = clean_text(page.raw)
    assert (result.author, result.published) == (page.author, page.published)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_removed_line_is_gone_from_the_text(page: Page) -> None:
    result = clean_text(page.raw)
    kept = set(result.text.split("\n"))
    assert result.removed
    assert not kept & set(result.removed)


def test_gov_notice_loses_breadcrumb_byline_font_size_print_and_footer() -> None:
    removed = clean_text(GOV_NOTICE.raw).removed
    assert removed == (
        "首页 > 政策 > 最新",
        "发布时间：2024-03-01 10:00  来源：农业农村部办公厅",
        "【字号：大 中 小】",
        "打印本页 关闭窗口",
        "扫一扫在手机打开当前页",
        "【我要纠错】 责任编辑：李明",
        "版权所有：中国政府网 | 中华人民共和国国务院办公厅 主办",
        "网站标识码bm01000001 京ICP备05070218号 京公网安备11010202000001号",
        "网站地图 | 联系我们",
    )


def test_gov_notice_signature_date_is_kept_as_article_text() -> None:
    assert "\n农业农村部办公厅\n2024年2月28日\n（此件公开发布）" in clean_text(GOV_NOTICE.raw).text


@pytest.mark.parametrize("page", (SEED_PAGE, *PAGES), ids=lambda page: page.name)
def test_cleaning_twice_changes_nothing(page: Page) -> None:
    once = clean_text(page.raw).text
    assert clean_text(once).text == once


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
@pytest.mark.parametrize("page", (SEED_PAGE, *PAGES), ids=lambda page: page.name)
def test_windows_and_old_mac_line_endings_clean_like_unix_ones(page: Page, ending: str) -> None:
    assert clean_text(page.raw.replace("\n", ending)) == clean_text(page.raw)


def test_a_real_paragraph_after_the_page_tail_is_kept_but_short_headlines_are_not() -> None:
    first, late = FIRST_PARAGRAPH, LAST_PARAGRAPH
    chrome = ("责任编辑：赵六", "高标准农田建设现场会召开", "春耕生产有序推进")
    raw = "\n".join((first, chrome[0], late, *chrome[1:]))
    result = clean_text(raw)
    assert result.text == f"{first}\n{late}"
    assert result.removed == chrome


FIRST_PARAGRAPH = (
    "为加快推进农业现代化，本市决定开展高标准农田建设三年行动，"
    "力争到2026年新建和改造提升高标准农田十万亩以上，粮食综合生产能力稳步提升。"
)
LAST_PARAGRAPH = (
    "各区县要建立健全工作推进机制，明确时间表、路线图和责任人，"
    "定期调度进展情况，确保各项建设任务按期保质完成，年底前全面完成验收。"
)


@pytest.mark.parametrize(
    "chrome",
    [
        "2024年3月1日 10:00",
        "2023/08/25",
        "03-01 09:30",
        "原标题：青山市召开高标准农田建设推进会",
        "当前位置：首页>新闻中心>要闻",
        "【打印】【关闭】",
        "分享：",
        "返回顶部",
        "（记者 张三 摄）",
        "图片来源：视觉中国",
        "图为高标准农田建设现场。",
        "责任编辑：王一 校对：赵二",
        "Copyright © 2024 青山市人民政府 All Rights Reserved",
        "声明：该文观点仅代表作者本人，本平台仅提供信息存储空间服务。",
    ],
)
def test_chrome_line_between_two_paragraphs_is_removed(chrome: str) -> None:
    result = clean_text(f"{FIRST_PARAGRAPH}\n{chrome}\n{LAST_PARAGRAPH}")
    assert result.text == f"{FIRST_PARAGRAPH}\n{LAST_PARAGRAPH}"
    assert result.removed == (chrome,)


def test_author_field_in_a_source_byline_stops_before_the_date() -> None:
    result = clean_text(f"来源：人民日报 作者：张三 2023-08-25\n{FIRST_PARAGRAPH}")
    assert (result.author, result.published) == ("张三", date(2023, 8, 25))


def test_article_lines_that_resemble_chrome_are_kept() -> None:
    lines = [
        "为加快推进农业现代化，本市决定开展高标准农田建设三年行动，力争到2026年新建和改造提升高标准农田十万亩以上。",
        "记者从市发改委获悉，今年以来全市新增就业岗位1.2万个。",
        "时间：2024年3月5日（星期二）上午9:00",
        "联系我们的群众要做到件件有回应。",
        "打印机等办公设备纳入集中采购目录。",
        "第三条 本办法所称版权所有人，是指依法享有著作权的公民、法人或者非法人组织。",
        "标签化管理覆盖全部企业。",
        "首页设计应当简洁明了。",
        "2023年8月24日",
        "（此件公开发布）",
    ]
    result = clean_text("\n".join(lines))
    assert result.removed == ()
    assert result.text == "\n".join(lines)


def test_empty_and_blank_pages_clean_to_empty_text() -> None:
    empty = CleanResult(text="", author="", published=None, removed=())
    assert clean_text("") == empty
    assert clean_text(" \n\u3000\r\n\t") == empty


# --- government portal chrome: department directories and dated headline lists

PORTAL_ARTICLE = (
    "九江市人民政府办公室关于做好2025年春节期间安全生产工作的通知",
    "各县（市、区）人民政府，市政府各部门：",
    (
        "为切实做好2025年春节期间安全生产工作，有效防范遏制各类生产安全事故，确保全市人民群众度过一个欢乐祥和的"
        "新春佳节，经市政府同意，现就有关事项通知如下。"
    ),
    "一、压紧压实安全生产责任",
    (
        "各地各部门要严格落实安全生产责任制，主要负责同志要亲自研究部署节日期间安全生产工作，深入一线检查督导，"
        "推动各项防范措施落实到位。"
    ),
    "九江市人民政府办公室",
    "2025年1月14日",
)
# The directory every page of the portal repeats at its foot.
DEPARTMENTS = (
    "市委组织部", "市委宣传部", "市委统战部", "市委政法委", "市发展改革委", "市教育局", "市科技局", "市工信局",
    "市公安局", "市民政局", "市司法局", "市财政局", "市人社局", "市自然资源局", "市生态环境局", "市住建局",
    "市交通运输局", "市水利局", "市农业农村局", "市商务局", "市文广新旅局", "市卫健委", "市应急管理局", "市林业园林局",
)  # fmt: skip
# A sidebar of the section's latest notices before the article, dated "YYYY-MM-DD ]" or "[YYYY-MM-DD]".
SIDEBAR = (
    "市政府召开第38次常务会议 2025-01-14 ]",
    "关于2025年元旦期间道路交通管制的通告 2025-01-10 ]",
    "九江市2024年第四季度重点项目集中开工 2025-01-08 ]",
    "市政府办公室关于印发优化营商环境若干措施的通知 2025-01-06 ]",
)
RELATED = (
    "[2025-01-13] 全市召开冬季消防安全工作会议",
    "[2025-01-12] 市应急管理局开展危化品企业专项检查",
    "[2025-01-09] 九江市发布春运期间出行提示",
)
PORTAL_PAGE = "\n".join(
    (
        "首页 > 政务公开 > 通知公告",
        "最新通知",
        *SIDEBAR,
        *PORTAL_ARTICLE,
        "相关文章",
        *RELATED,
        "部门网站",
        *(f"· {name}" for name in DEPARTMENTS),
        "主办：九江市人民政府办公室 版权所有 赣ICP备05004409号",
    )
)


def test_a_portal_page_loses_its_department_directory_and_dated_headlines_and_keeps_the_article() -> None:
    result = clean_text(PORTAL_PAGE)
    assert result.text == "\n".join(PORTAL_ARTICLE)
    for line in (*SIDEBAR, *RELATED, *(f"· {name}" for name in DEPARTMENTS)):
        assert line in result.removed


def test_a_department_directory_goes_even_right_after_the_article() -> None:
    page = "\n".join((*PORTAL_ARTICLE, *(f"· {name}" for name in DEPARTMENTS[:6])))
    assert clean_text(page).text == "\n".join(PORTAL_ARTICLE)


def test_a_directory_on_one_line_is_chrome() -> None:
    row = " ".join(f"· {name}" for name in DEPARTMENTS)
    assert clean_text(f"{FIRST_PARAGRAPH}\n{row}\n{LAST_PARAGRAPH}").removed == (row,)


def test_a_short_bulleted_list_in_an_article_is_kept() -> None:
    lines = (FIRST_PARAGRAPH, "· 市委组织部", "· 市委宣传部", "· 市财政局", LAST_PARAGRAPH)
    assert clean_text("\n".join(lines)).text == "\n".join(lines)


def test_a_listing_page_of_dated_headlines_has_no_text_left() -> None:
    assert clean_text("\n".join(("通知公告", *SIDEBAR, *RELATED))).text == ""


def test_a_dated_schedule_of_three_lines_in_a_short_notice_is_kept() -> None:
    lines = ("关于举办2025年消防培训的通知", "报名开始 2025-03-01", "报名截止 2025-03-10", "培训时间 2025-03-20")
    assert clean_text("\n".join(lines)).text == "\n".join(lines)
