"""The checkable facts of a headline: companies, event kinds, direction, periods and figures (English and Chinese).

Sentence embeddings put "Nvidia raises guidance" and "Nvidia cuts guidance" almost on top of each other (cosine
0.96 with multilingual E5), and the same for another quarter or another figure. Whether two headlines tell the
same story therefore needs the facts compared as well: two headlines conflict when both state a fact of one kind
and the stated values have nothing in common (a headline that leaves a fact out never conflicts on it, since
re-worded stories often drop details). Words map to language-free concepts, so an English and a Chinese headline
are compared on the same terms.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

# Company names in both languages -> one canonical key. Callers may add their own (e.g. the feeds config's
# [symbols] table); an all-caps token that is not a known word is taken as a company or ticker of its own.
COMPANY_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "NVDA": ("Nvidia", "NVIDIA", "英伟达", "輝達", "辉达"),
    "AAPL": ("Apple", "苹果", "蘋果"),
    "MSFT": ("Microsoft", "微软", "微軟"),
    "TSLA": ("Tesla", "特斯拉"),
    "AMZN": ("Amazon", "亚马逊", "亞馬遜"),
    "GOOGL": ("Alphabet", "Google", "谷歌"),
    "META": ("Meta", "Facebook", "脸书"),
    "AMD": ("AMD", "Advanced Micro Devices", "超威"),
    "TSM": ("TSMC", "Taiwan Semiconductor", "台积电", "台積電"),
    "BABA": ("Alibaba", "阿里巴巴", "阿里"),
    "0700.HK": ("Tencent", "腾讯", "騰訊"),
    "600519.SS": ("Kweichow Moutai", "Moutai", "贵州茅台", "茅台"),
    "INTC": ("Intel", "英特尔"),
    "NFLX": ("Netflix", "奈飞", "网飞"),
    "BIDU": ("Baidu", "百度"),
    "JD": ("JD.com", "京东"),
    "1211.HK": ("BYD", "比亚迪"),
    "1810.HK": ("Xiaomi", "小米"),
    "HUAWEI": ("Huawei", "华为"),
    "005930.KS": ("Samsung", "三星"),
    "BA": ("Boeing", "波音"),
    "QCOM": ("Qualcomm", "高通"),
    "MU": ("Micron", "美光"),
    "AVGO": ("Broadcom", "博通"),
    "ORCL": ("Oracle", "甲骨文"),
    # Banks and brokers: "Goldman upgrades X" and "JPMorgan upgrades X" are two stories.
    "GS": ("Goldman Sachs", "Goldman", "高盛"),
    "MS": ("Morgan Stanley", "摩根士丹利", "大摩"),
    "JPM": ("JPMorgan", "JP Morgan", "J.P. Morgan", "摩根大通", "小摩"),
    "UBS": ("UBS", "瑞银"),
    "C": ("Citigroup", "Citi", "花旗"),
    "BAC": ("Bank of America", "BofA", "美银", "美国银行"),
})

# Event kinds. A headline may carry several ("shares jump after it raises guidance"); two headlines conflict on
# kind only when they share none.
_KINDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    # kind: (English pattern, Chinese pattern)
    "results": (r"revenue|sales|profit|earnings|net income|eps|results|quarter(?:ly)?|loss(?:es)?|margin",
                r"营收|收入|销售额|营业额|利润|净利|盈利|每股收益|业绩|财报|亏损|毛利率|季度"),
    "guidance": (r"guidance|outlook|forecast|projects?|sees", r"指引|展望|预测|预告|预计"),
    "deal": (r"acquir\w*|acquisition|buys?|bought|takeover|merger|merge|to buy|stake",
             r"收购|并购|合并|入股|股权"),
    "jobs": (r"layoffs?|lay(?:s|ing)? off|job cuts|jobs|workforce|workers|staff|employees|headcount|hir\w+",
             r"裁员|岗位|员工|职位|招聘|扩招|招人"),
    "payout": (r"dividend|buyback|repurchase", r"股息|分红|派息|回购"),
    "rating": (r"upgrade[sd]?|downgrade[sd]?|rating|price target|overweight|underweight|analysts?",
               r"评级|目标价|分析师"),
    "recall": (r"recall\w*", r"召回"),
    "legal": (r"lawsuit|sues?|sued|probe|investigation|fined?|antitrust|regulators?|settle\w*|court",
              r"诉讼|起诉|调查|罚款|反垄断|监管|和解|法院"),
    "leadership": (r"ceo|cfo|chief executive|resign\w*|steps? down|appoint\w*|names new",
                   r"首席执行官|首席财务官|总裁|董事长|辞职|卸任|任命"),
    "product": (r"launch\w*|unveil\w*|releases?|debuts?|introduc\w*", r"发布新|推出新|亮相|首发|上市新"),
    "deliveries": (r"deliver\w*|shipments?|units sold", r"交付|出货|销量"),
    "price": (r"prices?|price cuts?|pricing", r"降价|涨价|价格|售价"),
    "plant": (r"factory|plant|gigafactory|fab", r"工厂|建厂|晶圆厂"),
    "ipo": (r"ipo|listing|go(?:es)? public", r"首次公开募股|挂牌|ipo"),
    "stock": (r"shares|stock|market (?:cap|value)", r"股价|股票|市值|涨停|跌停"),
})

# Direction of change. "Beats" counts as up and "misses" as down, so "beats estimates" and "misses estimates"
# conflict just as "raises" and "cuts" do.
_UP_EN = (r"raise[sd]?|rais\w+|lifts?|lifted|boost\w*|hikes?|hiked|rises?|rose|risen|jump\w*|surg\w+|soar\w*|"
          r"gains?|gained|climb\w*|rall\w+|beats?|tops|topped|increas\w+|grows?|grew|grown|growth|higher|up|"
          r"upgrade[sd]?|expand\w*|spikes?|spiked|record high|better than expected|strong|hir(?:e|es|ed|ing)|"
          r"(?:add\w*|creat\w+) [\w,. ]{0,20}jobs")
_DOWN_EN = (r"cuts?|cutting|lower(?:s|ed)?|reduc\w+|trims?|trimmed|slash\w*|falls?|fell|fallen|drops?|dropped|"
            r"slides?|slid|plung\w+|tumbl\w+|sinks?|sank|slump\w*|miss\w*|declin\w+|decreas\w+|shrink\w*|shrank|"
            r"down|downgrade[sd]?|lay(?:s|ing)? off|layoffs?|weak\w*|worse than expected|falls short|sell-off|"
            r"selloff|slowdown|slows?")
_UP_ZH = (r"招聘|扩招|新增|上调|调高|提高|上涨|大涨|飙升|走高|攀升|增长|增加|超预期|超出预期|好于预期|高于预期|"
          r"上升|上扬|涨|升至|提升|扩大|新高|强劲|上修")
_DOWN_ZH = (r"裁员|下调|调低|降低|下跌|大跌|暴跌|走低|下滑|下降|减少|不及预期|低于预期|逊于预期|跌|降至|削减|缩减|裁减|"
            r"新低|疲软|下修|放缓|降价")

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_ORDINAL_EN = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_QUARTER = re.compile(
    r"(?<![A-Za-z0-9])(?:Q([1-4])|([1-4])Q)(?![0-9])|"
    r"\b(first|second|third|fourth|1st|2nd|3rd|4th)[- ]quarter\b|"
    r"第?([一二三四1-4])季度|([一二三四])季报",
    re.IGNORECASE,
)
_HALF = re.compile(r"(?<![A-Za-z0-9])H([12])(?![0-9])|\b(first|second)[- ]half\b|([上下])半年", re.IGNORECASE)
_FISCAL_YEAR = re.compile(r"(?<![A-Za-z0-9])FY ?'?(\d{2}|\d{4})(?![0-9])|fiscal(?: year)? (\d{4})|(\d{4}) ?财年",
                          re.IGNORECASE)
_YEAR = re.compile(r"(?<![0-9.,$])((?:19|20)\d{2})(?![0-9%])(?! ?(?:亿|万|million|billion))")

_MULTIPLIERS = {
    "trillion": 1e12, "tn": 1e12, "billion": 1e9, "bn": 1e9, "b": 1e9, "million": 1e6, "mn": 1e6, "m": 1e6,
    "thousand": 1e3, "k": 1e3, "万亿": 1e12, "亿": 1e8, "千万": 1e7, "百万": 1e6, "万": 1e4, "千": 1e3,
}
_NUMBER = re.compile(
    r"(?P<cur>[$€£¥]|US\$|HK\$|RMB ?)?(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)\s?"
    r"(?P<unit>%|percent|per cent|个百分点|trillion|billion|million|thousand|万亿|千万|百万|亿|万|千|tn|bn|mn|"
    r"[bmk](?![a-z]))?"
    r"\s?(?P<cur2>美元|元|港元|人民币|dollars?|yuan|usd|rmb)?",
    re.IGNORECASE,
)
_RELATIVE_TOLERANCE = 0.01  # "$30.04 billion" and "$30 billion" are one figure; "$60bn" and "$61bn" two
_PERCENT_TOLERANCE = 0.25  # percentage points: "5.2%" against "5%" is rounding

_ACRONYM = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z&.]{1,5}(?![A-Za-z0-9])")
# All-caps tokens that are words of finance, not companies.
_NOT_COMPANIES = frozenset(
    "AI CEO CFO COO CTO EPS IPO US USA UK EU GDP ETF SEC FTC DOJ FDA EV EVS PC PCS GPU GPUS CPU CPUS ADR ADRS "
    "NYSE NASDAQ FY H1 H2 Q1 Q2 Q3 Q4 1Q 2Q 3Q 4Q YOY QOQ M&A RMB USD HK HKD CNY OK TV UPDATE BREAKING "
    "EXCLUSIVE WSJ CNBC NEWS AM PM II III".split()
)


@dataclass(frozen=True)
class Facts:
    """What a headline states, in language-free terms; every field is a (possibly empty) frozenset."""

    companies: frozenset[str]
    kinds: frozenset[str]
    directions: frozenset[str]  # subset of {"up", "down"}
    quarters: frozenset[int]
    halves: frozenset[int]
    years: frozenset[int]
    percents: frozenset[float]
    amounts: frozenset[float]  # money and counts, normalised to units (30 billion -> 3e10)


def _word_pattern(words: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9])(?:" + words + r")(?![A-Za-z0-9])", re.IGNORECASE)


class FactExtractor:
    """Extracts :class:`Facts` from headlines; built once (the patterns compile here), then pure."""

    def __init__(self, aliases: Mapping[str, Sequence[str]] = COMPANY_ALIASES) -> None:
        self._names: list[tuple[str, re.Pattern[str] | str]] = []
        self._canonical: dict[str, str] = {}
        for key, names in aliases.items():
            self._canonical[key.upper()] = key.upper()
            for name in names:
                if re.search(r"[\u3400-\u9fff]", name):
                    self._names.append((key.upper(), name))
                else:
                    self._canonical[name.upper()] = key.upper()
                    self._names.append((key.upper(), re.compile(r"(?<![A-Za-z0-9])" + re.escape(name)
                                                                + r"(?![A-Za-z0-9])", re.IGNORECASE)))
        self._kinds = [(kind, _word_pattern(en), re.compile(zh, re.IGNORECASE)) for kind, (en, zh) in _KINDS.items()]
        self._up_en, self._down_en = _word_pattern(_UP_EN), _word_pattern(_DOWN_EN)
        self._up_zh, self._down_zh = re.compile(_UP_ZH), re.compile(_DOWN_ZH)

    def extract(self, text: str, symbols: Iterable[str] = ()) -> Facts:
        """The facts of one headline; ``symbols`` (tickers the archive tagged it with) count as companies."""
        companies = {s.upper() for s in symbols}
        for key, name in self._names:
            if (name in text) if isinstance(name, str) else name.search(text):
                companies.add(key)
        for token in _ACRONYM.findall(text):
            token = token.rstrip(".").upper()
            if token not in _NOT_COMPANIES and not token.isdigit():
                companies.add(self._canonical.get(token, token))
        kinds = {kind for kind, en, zh in self._kinds if en.search(text) or zh.search(text)}
        directions = set()
        if self._up_en.search(text) or self._up_zh.search(text):
            directions.add("up")
        if self._down_en.search(text) or self._down_zh.search(text):
            directions.add("down")
        rest, quarters, halves, years = _periods(text)
        percents, amounts = _figures(rest)
        return Facts(frozenset(companies), frozenset(kinds), frozenset(directions), frozenset(quarters),
                     frozenset(halves), frozenset(years), frozenset(percents), frozenset(amounts))


def _periods(text: str) -> tuple[str, set[int], set[int], set[int]]:
    """Quarters, halves and years in ``text``, and the text with them blanked out (so no figure is read twice)."""
    quarters: set[int] = set()
    halves: set[int] = set()
    years: set[int] = set()

    def quarter(m: re.Match[str]) -> str:
        q = next(g for g in m.groups() if g)
        quarters.add(_ORDINAL_EN.get(q.lower()) or _CN_DIGITS[q])
        return " "

    def half(m: re.Match[str]) -> str:
        h = next(g for g in m.groups() if g)
        halves.add({"1": 1, "2": 2, "first": 1, "second": 2, "上": 1, "下": 2}[h.lower()])
        return " "

    def fiscal(m: re.Match[str]) -> str:
        y = next(g for g in m.groups() if g)
        years.add(int(y) + (2000 if len(y) == 2 else 0))
        return " "

    def year(m: re.Match[str]) -> str:
        years.add(int(m.group(1)))
        return " "

    text = _QUARTER.sub(quarter, text)
    text = _HALF.sub(half, text)
    text = _FISCAL_YEAR.sub(fiscal, text)
    text = _YEAR.sub(year, text)
    return text, quarters, halves, years


def _figures(text: str) -> tuple[set[float], set[float]]:
    """Percentages and amounts (money and counts, with their multipliers applied)."""
    percents: set[float] = set()
    amounts: set[float] = set()
    for m in _NUMBER.finditer(text):
        value = float(m.group("num").replace(",", ""))
        unit = (m.group("unit") or "").lower()
        if unit in ("%", "percent", "per cent", "个百分点"):
            percents.add(value)
        elif unit:
            amounts.add(value * _MULTIPLIERS[unit])
        elif m.group("cur") or m.group("cur2") or value >= 10:
            amounts.add(value)  # a bare small number ("3 reasons", "top 5") says little; a sum or a count does
    return percents, amounts


def _close(a: float, b: float, percent: bool) -> bool:
    if percent:
        return abs(a - b) <= _PERCENT_TOLERANCE
    return abs(a - b) <= _RELATIVE_TOLERANCE * max(abs(a), abs(b))


def _disjoint_figures(a: frozenset[float], b: frozenset[float], percent: bool) -> bool:
    return bool(a and b) and not any(_close(x, y, percent) for x in a for y in b)


def conflicts(a: Facts, b: Facts) -> tuple[str, ...]:
    """The kinds of fact on which two headlines contradict each other (empty: nothing contradicts).

    A conflict needs both headlines to state the fact. Companies conflict when each headline names one that the
    other does not ("Goldman upgrades Alibaba" against "JPMorgan upgrades Alibaba"), so a re-wording that drops
    the broker's name still matches. Opposite directions conflict only when each headline has
    one direction ("rises despite a cut" carries both and conflicts with neither).
    """
    found = []
    if a.companies - b.companies and b.companies - a.companies:  # each names a company the other does not
        found.append("companies")
    for name in ("kinds", "quarters", "halves", "years"):
        x, y = getattr(a, name), getattr(b, name)
        if x and y and not (x & y):
            found.append(name)
    if len(a.directions) == 1 and len(b.directions) == 1 and a.directions != b.directions:
        found.append("directions")
    if _disjoint_figures(a.percents, b.percents, percent=True):
        found.append("percents")
    if _disjoint_figures(a.amounts, b.amounts, percent=False):
        found.append("amounts")
    return tuple(found)
