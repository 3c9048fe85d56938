"""Run-on notices (one line: headline, dateline or byline, body, a reprint disclaimer) through the upload path.

Each notice is uploaded under the md5 of its text as file name, as scraped notices arrive, into a real
``ingest.library.Library`` in a fresh data directory, and parsed: the tests read the stored ``Document``.
The notices are written for these tests (figures, names and dates are made up), in the shapes real
scraped notices have.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ingest.build import ensure_index
from ingest.clean import clean_text
from ingest.config import BuildConfig, ChunkConfig, DataPaths
from ingest.index_store import read_index
from ingest.library import Library
from ingest.types import Document

DISCLAIMER = (
    '（凡本网注明"来源：XXX"的作品，均转载自其它媒体，'
    "转载目的在于传递更多信息，并不代表本网赞同其观点和对其真实性负责。）"
)


@dataclass(frozen=True)
class Notice:
    """A one-line notice and what the library must make of it."""

    name: str
    raw: str
    title: str
    issuer: str
    published: date | None
    region: tuple[str, ...]
    body: tuple[str, ...]  # sentences that must survive cleaning, verbatim
    chrome: tuple[str, ...] = ()  # what must be gone from the text


TAX = Notice(
    name="headline, lead with 记者从…获悉, reprint disclaimer at the end (645 characters)",
    raw=(
        '2月申报纳税期限延长至2月24日 重庆倡导"非接触式"办理税费业务 今（30）日，华龙网-新重庆客户端记者从'
        "国家税务总局重庆市税务局获悉，为做好新型冠状病毒感染的肺炎疫情防控工作，减少人员聚集和流动，重庆市2月份"
        "申报纳税期限延长至2月24日。纳税人、扣缴义务人可在2月24日前完成申报，逾期未申报的，税务机关将根据实际情况"
        "依法处理。市税务局提醒广大纳税人，尽量通过电子税务局、个人所得税APP、手机端等“非接触式”渠道办理涉税事项，"
        "确需到办税服务厅办理的，可提前通过12366纳税服务热线预约。对受疫情影响生产经营确有困难、不能按期缴纳税款的"
        "企业，可以依法申请延期缴纳税款，最长不超过3个月。对纳税人因疫情原因不能按期办理申报的，可依法申请延期申报；"
        "对逾期办理申报、报送资料等涉税事项的，税务机关免予行政处罚，相关记录不纳入纳税信用评价。同时，全市各办税"
        "服务厅将每日对场所进行消毒，为办税人员和纳税人提供口罩、测量体温，做好防护工作，并安排专人引导纳税人分散"
        "办理、错峰办理，避免在大厅内排队等候。市税务局相关负责人表示，将密切关注疫情发展，及时调整和发布相关措施，"
        "保障纳税人、缴费人的合法权益，确保疫情防控和税收工作两不误。广大纳税人如有疑问，可拨打12366纳税服务热线"
        "咨询，也可登录国家税务总局重庆市税务局网站查询，或关注“重庆税务”微信公众号获取最新的政策解读。" + DISCLAIMER
    ),
    title='2月申报纳税期限延长至2月24日 重庆倡导"非接触式"办理税费业务',
    issuer="国家税务总局重庆市税务局",
    published=None,  # 今（30）日: no month, no year
    region=("重庆市",),
    body=("可以依法申请延期缴纳税款，最长不超过3个月。", "或关注“重庆税务”微信公众号获取最新的政策解读。"),
    chrome=("凡本网注明", "转载自其它媒体"),
)
XINHUA = Notice(
    name="新华社 dateline with a reporter in brackets; the city names no province",
    raw=(
        "九江小微企业房租减免最长6个月 新华社南昌3月2日电（记者 刘晓明）记者2日从九江市人民政府获悉，九江市对承租"
        "国有企业经营性房产的小微企业和个体工商户，2020年免收3个月房租、减半收取3个月房租，预计惠及商户1.2万户。"
        "对转租、分租国有房产的，由转租方、分租方落实减免要求，确保减免政策惠及最终承租人。九江市国资委将会同有关"
        "部门对减免落实情况开展督查，对不落实减免政策的予以通报。"
    ),
    title="九江小微企业房租减免最长6个月",
    issuer="九江市人民政府",
    published=date(2020, 3, 2),  # the dateline's month and day, the year the text names
    region=("江西省", "九江市"),
    body=("对转租、分租国有房产的，由转租方、分租方落实减免要求，确保减免政策惠及最终承租人。",),
    chrome=("新华社南昌3月2日电（记者 刘晓明）",),
)
BYLINE = Notice(
    name="a byline run (作者：… 来源：… 发布时间：…) in the middle of the line",
    raw=(
        "吉林省出台稳岗返还新政 中小微企业返还比例提高至90% 作者：王明 来源：吉林日报 发布时间：2022-05-16 10:30 "
        "近日，吉林省人力资源和社会保障厅、吉林省财政厅联合印发《关于做好2022年失业保险稳岗返还工作的通知》，"
        "将中小微企业稳岗返还比例由60%提高至90%，大型企业返还比例由30%提高至50%。政策实施期限至2022年12月31日。"
        "符合条件的企业无需申请，由经办机构通过大数据比对主动发放返还资金。"
    ),
    title="吉林省出台稳岗返还新政 中小微企业返还比例提高至90%",
    issuer="吉林省人力资源和社会保障厅",
    published=date(2022, 5, 16),
    region=("吉林省",),
    body=("符合条件的企业无需申请，由经办机构通过大数据比对主动发放返还资金。",),
    chrome=("作者：王明", "来源：吉林日报", "发布时间"),
)
QANDA = Notice(
    name="a Q&A notice (1、…？答：…) whose headline asks a question",
    raw=(
        "贵阳市医保局答疑：异地就医备案怎么办？ 发布时间：2021-08-03 来源：贵阳市医疗保障局 1、异地就医需要先备案吗？"
        "答：参保人员跨省异地就医，应先办理备案手续，备案后可在就医地定点医疗机构直接结算。2、备案可以在网上办理吗？"
        "答：可以。参保人员可通过国家医保服务平台APP、“贵州医保”微信公众号等渠道在线办理，无需到经办窗口。"
        "3、备案后多久生效？答：线上备案即时生效，备案有效期内可多次就医结算。"
    ),
    title="贵阳市医保局答疑：异地就医备案怎么办？",
    issuer="贵阳市医疗保障局",  # the byline's 来源 is an organ
    published=date(2021, 8, 3),
    region=("贵州省", "贵阳市"),
    body=("答：线上备案即时生效，备案有效期内可多次就医结算。", "2、备案可以在网上办理吗？"),
    chrome=("发布时间", "来源："),
)
INDENTS = Notice(
    name="paragraph indents (　　) inside the line, a photo credit, an editor at the end",
    raw=(
        "九江市出台十条措施支持外贸企业稳订单拓市场 本报讯（记者 李华）　　3月18日，九江市商务局印发《关于支持外贸"
        "企业稳订单拓市场的十条措施》，从出口信用保险、展会补贴、物流保障等方面支持外贸企业发展。　　措施提出，2021年"
        "对参加境外展会的企业，按展位费的70%给予补贴，单个企业最高不超过20万元。　　（张小军 摄）　　编辑：周敏"
    ),
    title="九江市出台十条措施支持外贸企业稳订单拓市场",
    issuer="九江市商务局",
    published=date(2021, 3, 18),
    region=("江西省", "九江市"),
    body=(
        "3月18日，九江市商务局印发《关于支持外贸企业稳订单拓市场的十条措施》，从出口信用保险、展会补贴、物流保障等"
        "方面支持外贸企业发展。",
        "措施提出，2021年对参加境外展会的企业，按展位费的70%给予补贴，单个企业最高不超过20万元。",
    ),
    chrome=("（记者 李华）", "（张小军 摄）", "编辑：周敏"),
)
PROVINCE_DATELINE = Notice(
    name="本报济南…讯: the title's province, not the dateline's city, is the region",
    raw=(
        "山东：服务业小微企业房租减免最长6个月 本报济南4月28日讯 记者从山东省财政厅获悉，2022年被列为疫情中高风险"
        "地区所在的县级行政区域内的服务业小微企业和个体工商户承租国有房屋，减免6个月租金，其他地区减免3个月租金。"
        "各级财政部门要加强督促指导，推动减免政策落实到位。"
    ),
    title="山东：服务业小微企业房租减免最长6个月",
    issuer="山东省财政厅",
    published=date(2022, 4, 28),
    region=("山东省",),
    body=("各级财政部门要加强督促指导，推动减免政策落实到位。",),
)
NATIONAL = Notice(
    name="a national notice filed from Beijing: no region",
    raw=(
        "国务院常务会议部署进一步稳就业举措 新华社北京7月12日电 国务院总理主持召开国务院常务会议，部署进一步做好"
        "稳就业工作，要求2023年各地区各部门把稳就业摆在更加突出的位置，加大对企业吸纳就业的支持力度，扩大高校"
        "毕业生就业渠道，做好农民工就业服务。"
    ),
    title="国务院常务会议部署进一步稳就业举措",
    issuer="",
    published=date(2023, 7, 12),
    region=(),
    body=("做好农民工就业服务。",),
)
LEAD_FIRST = Notice(
    name="no headline: the first line is a lead sentence, so the title is its first clause",
    raw=(
        "为进一步做好农民工工资支付保障工作，宁波市人力资源和社会保障局近日出台十项措施，要求在建工程项目全面落实"
        "农民工实名制管理和工资专用账户制度，对拖欠农民工工资的用人单位依法列入失信联合惩戒对象名单。"
    ),
    title="为进一步做好农民工工资支付保障工作",
    issuer="宁波市人力资源和社会保障局",
    published=None,
    region=("浙江省", "宁波市"),
    body=("对拖欠农民工工资的用人单位依法列入失信联合惩戒对象名单。",),
)
NOTICES = (TAX, XINHUA, BYLINE, QANDA, INDENTS, PROVINCE_DATELINE, NATIONAL, LEAD_FIRST)


def hash_name(text: str) -> str:
    """The file name scraped notices arrive under: the md5 of their text."""
    return hashlib.md5(text.encode("utf-8")).hexdigest() + ".txt"  # a name, not a checksum


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Document]]:
    """Every notice uploaded under its hash and parsed by a real library: ``name -> Document``."""
    library = Library(DataPaths(tmp_path_factory.mktemp("data")), ChunkConfig())
    try:
        ids = {n.name: library.receive(hash_name(n.raw), (n.raw + "\n").encode("utf-8")).status.doc_id for n in NOTICES}
        statuses = {s.doc_id: s for s in library.process_pending()}
        assert all(s.status == "parsed" for s in statuses.values()), [s.error for s in statuses.values()]
        docs = {d.doc_id: d for d in library.store.documents()}
        yield {name: docs[doc_id] for name, doc_id in ids.items()}
    finally:
        library.close()


def test_the_disclaimer_notice_is_645_characters_on_one_line() -> None:
    assert len(TAX.raw) == 645 and "\n" not in TAX.raw
    assert all("\n" not in n.raw for n in NOTICES)


def test_a_notice_ending_in_a_reprint_disclaimer_keeps_its_body_and_loses_the_disclaimer() -> None:
    result = clean_text(TAX.raw)
    assert result.text == TAX.raw.removesuffix(DISCLAIMER)
    assert result.removed == (DISCLAIMER,)


@pytest.mark.parametrize("notice", NOTICES, ids=lambda n: n.name)
def test_a_run_on_notice_gets_its_headline_as_title_never_its_hash(notice: Notice, parsed: dict[str, Document]) -> None:
    doc = parsed[notice.name]
    assert doc.title == notice.title
    assert hash_name(notice.raw).removesuffix(".txt") not in doc.title


@pytest.mark.parametrize("notice", NOTICES, ids=lambda n: n.name)
def test_a_run_on_notice_gets_the_issuer_and_date_its_lead_or_byline_gives(
    notice: Notice, parsed: dict[str, Document]
) -> None:
    doc = parsed[notice.name]
    assert (doc.issuer, doc.published) == (notice.issuer, notice.published)


@pytest.mark.parametrize("notice", NOTICES, ids=lambda n: n.name)
def test_a_run_on_notice_gets_its_region_from_province_down(notice: Notice, parsed: dict[str, Document]) -> None:
    assert parsed[notice.name].region == notice.region


@pytest.mark.parametrize("notice", NOTICES, ids=lambda n: n.name)
def test_a_run_on_notice_keeps_its_body_verbatim_and_loses_its_chrome(
    notice: Notice, parsed: dict[str, Document]
) -> None:
    text = parsed[notice.name].text
    for sentence in notice.body:
        assert sentence in text
    for chrome in notice.chrome:
        assert chrome not in text
    # Kept text is never rewritten: every clean line is a piece of the raw line.
    for line in text.split("\n"):
        assert line in notice.raw


def test_paragraph_indents_and_cut_out_chrome_become_line_breaks_and_nothing_else() -> None:
    lines = clean_text(INDENTS.raw).text.split("\n")
    assert lines == [INDENTS.title + " 本报讯", *INDENTS.body]


def test_a_byline_inside_the_line_gives_author_source_and_date() -> None:
    result = clean_text(BYLINE.raw)
    assert (result.author, result.source, result.published) == ("王明", "吉林日报", date(2022, 5, 16))
    assert result.text.split("\n")[0] == BYLINE.title


@pytest.mark.parametrize(
    "name",
    ["3f9a0c2e7b1d4e5fa6c8b9d0e1f2a3b4.txt", "3F9A0C2E7B1D4E5FA6C8B9D0E1F2A3B4.txt", "20200130_0017.txt"],
)
def test_a_hash_or_number_named_upload_is_titled_from_its_text(tmp_path: Path, name: str) -> None:
    text = "为做好春节期间安全生产工作，市应急管理局近日部署开展安全生产大检查，重点检查人员密集场所。\n"
    library = Library(DataPaths(tmp_path / "data"), ChunkConfig())
    try:
        library.receive(name, text.encode("utf-8"))
        [status] = library.process_pending()
    finally:
        library.close()
    assert status.title == "为做好春节期间安全生产工作"


def test_a_masthead_is_never_the_title_of_an_upload(tmp_path: Path) -> None:
    text = (
        "国务院文件\n国发〔2021〕1号\n国务院关于加强基层公共服务\n能力建设的通知\n"
        "各省、自治区、直辖市人民政府，国务院各部委、各直属机构：\n现就有关事项通知如下。\n国务院\n2021年1月4日\n"
    )
    library = Library(DataPaths(tmp_path / "data"), ChunkConfig())
    try:
        library.receive("3f9a0c2e7b1d4e5fa6c8b9d0e1f2a3b4.txt", text.encode("utf-8"))
        [status] = library.process_pending()
        [doc] = library.store.documents()
    finally:
        library.close()
    assert status.title == "国务院关于加强基层公共服务能力建设的通知"
    assert (doc.issuer, doc.region) == ("国务院", ())


def test_an_upload_titled_by_its_hash_before_is_titled_from_its_text_on_the_next_update(
    tmp_path: Path, hash_embedder: Any
) -> None:
    paths = DataPaths(tmp_path / "data")
    library = Library(paths, ChunkConfig())
    try:
        name = hash_name(TAX.raw)
        doc_id = library.receive(name, TAX.raw.encode("utf-8")).status.doc_id
        library.process_pending()
        # What the release before stored for it: the file name as title, no region.
        library.store.update_metadata(doc_id, {"title": name.removesuffix(".txt")})
        library.store.db.execute("UPDATE documents SET region = NULL WHERE doc_id = ?", (doc_id,))
    finally:
        library.close()

    ensure_index(paths, None, BuildConfig(chunk=ChunkConfig()), hash_embedder)

    doc = read_index(paths.index).docs[doc_id]
    assert (doc.title, doc.region) == (TAX.title, ("重庆市",))
