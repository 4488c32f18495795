"""Writes the labelled headline pairs for bench/news_similarity.py: a tuning file and a held-out file.

The pairs are built from hand-written phrasings (several per event and language) filled with companies, periods
and figures. Positives are one event told twice (English, Chinese, or one of each), by different phrasings
and with wire-service decorations. Negatives are mostly hard: the same company and kind of event with one fact
changed (direction, quarter, figure), the same event at another company, or another event of the same company.

The split is made here, before any tuning, and by company: the held-out companies never appear in the tuning
file, and one English and one Chinese phrasing per event are kept for the held-out file only.

    python bench/data/make_news_pairs.py    # rewrites bench/data/news_pairs_tune.csv and news_pairs_heldout.csv
"""
from __future__ import annotations

import csv
import random
from dataclasses import dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261201

TUNE_COMPANIES = [("Nvidia", "英伟达"), ("Apple", "苹果"), ("Tesla", "特斯拉"), ("Microsoft", "微软"),
                  ("Alibaba", "阿里巴巴"), ("Amazon", "亚马逊"), ("Intel", "英特尔"), ("BYD", "比亚迪")]
# Half of these are not in ml.sentiment.facts.COMPANY_ALIASES: their names must be told apart some other way.
HELDOUT_COMPANIES = [("Netflix", "奈飞"), ("Baidu", "百度"), ("Xiaomi", "小米"), ("Qualcomm", "高通"),
                     ("Nike", "耐克"), ("Starbucks", "星巴克"), ("Disney", "迪士尼"), ("Ford", "福特")]
BANKS = [("Morgan Stanley", "摩根士丹利"), ("Goldman Sachs", "高盛"), ("JPMorgan", "摩根大通"), ("UBS", "瑞银")]
CN_Q = {1: "一", 2: "二", 3: "三", 4: "四"}
EN_Q = {1: "first", 2: "second", 3: "third", 4: "fourth"}


@dataclass(frozen=True)
class Event:
    """One event: its kind, direction and the slots its phrasings are filled with."""

    kind: str
    up: bool = True
    q: int = 1
    p: int = 10  # a percentage
    x: int = 5  # billions of dollars
    n: int = 5000  # a count
    bank: int = 0


def _zh_amount(x: int) -> str:
    return f"{x * 10}亿美元"


def _zh_count(n: int) -> str:
    return f"{n / 10000:g}万" if n >= 10000 else f"{n}"


# Phrasings per event kind and direction: English first, Chinese second. The LAST phrasing of each list is kept
# for the held-out file.
PHRASES: dict[str, dict[bool, tuple[list[str], list[str]]]] = {
    "guidance": {
        True: (["{c} raises full-year revenue guidance to ${x} billion",
                "{c} lifts annual sales outlook to ${x} billion",
                "{c} boosts its revenue forecast for the year to ${x}bn",
                "{c} now expects full-year revenue of ${x} billion, up from its earlier guidance"],
               ["{z}上调全年营收指引至{X}", "{z}将全年收入指引提高至{X}", "{z}调高全年销售额展望，预计达{X}",
                "{z}全年营收指引上调，最新预测为{X}"]),
        False: (["{c} cuts full-year revenue guidance to ${x} billion",
                 "{c} lowers annual sales outlook to ${x} billion",
                 "{c} trims its revenue forecast for the year to ${x}bn",
                 "{c} now expects full-year revenue of ${x} billion, down from its earlier guidance"],
                ["{z}下调全年营收指引至{X}", "{z}将全年收入指引降低至{X}", "{z}调低全年销售额展望，预计为{X}",
                 "{z}全年营收指引下调，最新预测为{X}"]),
    },
    "quarter": {
        True: (["{c} Q{q} revenue rises {p}%", "{c}'s {oq} quarter sales jump {p}%",
                "{c} posts {p}% revenue growth in the {oq} quarter", "{c} reports Q{q} sales up {p}% from a year ago"],
               ["{z}第{cq}季度营收增长{p}%", "{z}{cq}季度收入同比增长{p}%", "{z}Q{q}营收同比上涨{p}%",
                "{z}公布第{cq}季度财报，营收同比增长{p}%"]),
        False: (["{c} Q{q} revenue falls {p}%", "{c}'s {oq} quarter sales drop {p}%",
                 "{c} posts {p}% revenue decline in the {oq} quarter",
                 "{c} reports Q{q} sales down {p}% from a year ago"],
                ["{z}第{cq}季度营收下降{p}%", "{z}{cq}季度收入同比减少{p}%", "{z}Q{q}营收同比下滑{p}%",
                 "{z}公布第{cq}季度财报，营收同比下降{p}%"]),
    },
    "jobs": {
        True: (["{c} to hire {n:,} workers", "{c} plans to add {n:,} jobs", "{c} will increase headcount by {n:,}",
                "{c} says it will create {n:,} new jobs"],
               ["{z}将招聘{N}名员工", "{z}计划新增{N}个岗位", "{z}拟扩招{N}人", "{z}宣布将新增{N}个工作岗位"]),
        False: (["{c} to cut {n:,} jobs", "{c} lays off {n:,} workers", "{c} plans {n:,} job cuts",
                 "{c} says it will eliminate {n:,} positions"],
                ["{z}将裁员{N}人", "{z}计划裁减{N}个岗位", "{z}拟削减{N}名员工", "{z}宣布将裁员约{N}人"]),
    },
    "stock": {
        True: (["{c} shares jump {p}% after earnings", "{c} stock surges {p}% on strong results",
                "{c} shares soar {p}% as results beat forecasts", "Investors cheer {c} results, stock up {p}%"],
               ["{z}股价大涨{p}%", "财报超预期，{z}股价飙升{p}%", "{z}股价业绩发布后上涨{p}%",
                "业绩亮眼，{z}股价涨{p}%"]),
        False: (["{c} shares slide {p}% after earnings", "{c} stock tumbles {p}% on weak results",
                 "{c} shares plunge {p}% as results miss forecasts", "Investors dump {c} stock, shares down {p}%"],
                ["{z}股价大跌{p}%", "财报不及预期，{z}股价暴跌{p}%", "{z}股价业绩发布后下跌{p}%",
                 "业绩疲软，{z}股价跌{p}%"]),
    },
    "buyback": {
        True: (["{c} announces ${x} billion share buyback", "{c} unveils ${x}bn stock repurchase plan",
                "{c} board approves ${x} billion buyback", "{c} to repurchase up to ${x} billion of its shares"],
               ["{z}宣布{X}股票回购计划", "{z}推出{X}回购计划", "{z}董事会批准{X}股份回购",
                "{z}将回购最多{X}的股票"]),
    },
    "rating": {
        True: (["{b} upgrades {c} to overweight", "{c} upgraded to overweight at {b}", "{b} raises {c} rating to buy",
                "{c} gets upgrade from {b}"],
               ["{bz}将{z}评级上调至增持", "{bz}上调{z}评级至增持", "{bz}调高{z}投资评级", "{z}获{bz}上调评级"]),
        False: (["{b} downgrades {c} to underweight", "{c} downgraded to underweight at {b}",
                 "{b} cuts {c} rating to sell", "{c} gets downgrade from {b}"],
                ["{bz}将{z}评级下调至减持", "{bz}下调{z}评级至减持", "{bz}调低{z}投资评级", "{z}遭{bz}下调评级"]),
    },
}
DECORATIONS_EN = ["{}", "UPDATE 1-{}", "{} - Reuters", "{} | Bloomberg", "BREAKING: {}", "{} (report)"]
DECORATIONS_ZH = ["{}", "{}（附图）", "【快讯】{}", "{} - 新浪财经", "{}丨财经", "突发！{}"]


def _render(ev: Event, company: tuple[str, str], lang: str, phrase: int) -> str:
    en, zh = PHRASES[ev.kind][ev.up]
    template = (en if lang == "en" else zh)[phrase]
    bank, bank_zh = BANKS[ev.bank]
    return template.format(c=company[0], z=company[1], q=ev.q, oq=EN_Q[ev.q], cq=CN_Q[ev.q], p=ev.p, x=ev.x,
                           X=_zh_amount(ev.x), n=ev.n, N=_zh_count(ev.n), b=bank, bz=bank_zh)


def _random_event(rng: random.Random) -> Event:
    kind = rng.choice(list(PHRASES))
    up = rng.choice(list(PHRASES[kind]))
    return Event(kind, up=up, q=rng.randint(1, 4), p=rng.choice([3, 5, 8, 12, 15, 18, 22, 25, 30, 40]),
                 x=rng.choice([2, 4, 6, 10, 15, 20, 25, 30, 45, 60]),
                 n=rng.choice([1500, 3000, 6000, 8000, 12000, 20000]), bank=rng.randrange(len(BANKS)))


def _hard_variant(ev: Event, rng: random.Random) -> Event:
    """The same company and kind of event with one fact changed."""
    options = ["q", "p", "x", "n", "bank"]
    if len(PHRASES[ev.kind]) == 2:
        options += ["up", "up"]
    while True:
        field = rng.choice(options)
        if field == "up":
            return replace(ev, up=not ev.up)
        if field == "q":
            new = replace(ev, q=rng.choice([q for q in range(1, 5) if q != ev.q]))
        elif field == "p":
            new = replace(ev, p=ev.p + rng.choice([-2, 2, 4, 7, 10]) if ev.p > 2 else ev.p + 5)
        elif field == "x":
            new = replace(ev, x=ev.x + rng.choice([-1, 1, 3, 5]) if ev.x > 1 else ev.x + 3)
        elif field == "n":
            new = replace(ev, n=ev.n + rng.choice([-1000, 500, 2000, 4000]))
        else:
            new = replace(ev, bank=(ev.bank + 1) % len(BANKS))
        if _render(new, ("C", "C"), "en", 0) != _render(ev, ("C", "C"), "en", 0):  # the change must show
            return new


def _decorate(text: str, lang: str, rng: random.Random) -> str:
    return rng.choice(DECORATIONS_EN if lang == "en" else DECORATIONS_ZH).format(text)


def make_pairs(companies: list[tuple[str, str]], phrases: list[int], count: int, prefix: str,
               seed: int) -> list[dict[str, str]]:
    """``count`` pairs: 45% same story, 35% one fact changed, 10% another company, 10% another event."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        pair_lang = ("en", "zh", "en-zh")[i % 3]
        lang_a, lang_b = ("en", "zh") if pair_lang == "en-zh" else (pair_lang, pair_lang)
        company = rng.choice(companies)
        ev = _random_event(rng)
        roll = rng.random()
        other_company, other = company, ev
        if roll < 0.45:
            same = True
        elif roll < 0.80:
            same, other = False, _hard_variant(ev, rng)
        elif roll < 0.90:
            same, other_company = False, rng.choice([c for c in companies if c != company])
        else:
            same = False
            while other.kind == ev.kind:
                other = _random_event(rng)
        pa = rng.choice(phrases)
        pb = rng.choice([p for p in phrases if p != pa] if lang_a == lang_b and same else phrases)
        text_a = _decorate(_render(ev, company, lang_a, pa), lang_a, rng)
        text_b = _decorate(_render(other, other_company, lang_b, pb), lang_b, rng)
        if rng.random() < 0.5:
            text_a, text_b = (text_b, text_a) if lang_a == lang_b else (text_a, text_b)
        rows.append({"id": f"{prefix}{i:04d}", "lang": pair_lang, "text_a": text_a, "text_b": text_b,
                     "same_story": str(int(same))})
    return rows


def write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "lang", "text_a", "text_b", "same_story"])
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    write(HERE / "news_pairs_tune.csv", make_pairs(TUNE_COMPANIES, [0, 1, 2], 450, "t", SEED))
    write(HERE / "news_pairs_heldout.csv", make_pairs(HELDOUT_COMPANIES, [0, 1, 2, 3, 3], 450, "h", SEED + 1))


if __name__ == "__main__":
    main()
