"""Facts of headlines in English and Chinese, and the conflicts that separate a next story from a re-telling."""
from __future__ import annotations

import pytest

from ml.sentiment.facts import FactExtractor, conflicts

FX = FactExtractor()


def test_english_and_chinese_headlines_give_the_same_facts() -> None:
    en = FX.extract("Nvidia Q3 revenue rises 20% to $30.04 billion")
    zh = FX.extract("英伟达第三季度营收增长20%至300亿美元")
    assert en.companies == zh.companies == {"NVDA"}
    assert en.quarters == zh.quarters == {3}
    assert en.directions == zh.directions == {"up"}
    assert en.percents == zh.percents == {20.0}
    assert zh.amounts == {3e10} and en.amounts == {3.004e10}
    assert conflicts(en, zh) == ()  # $30.04bn against 300亿美元 is rounding


def test_periods_are_not_read_as_figures() -> None:
    facts = FX.extract("Apple FY2024 sales fall 3% in the first half")
    assert facts.years == {2024} and facts.halves == {1} and facts.percents == {3.0} and not facts.amounts
    assert FX.extract("苹果2024财年上半年销售额下降3%").years == {2024}


@pytest.mark.parametrize(("a", "b", "kind"), [
    ("Nvidia raises full-year guidance", "Nvidia cuts full-year guidance", "directions"),
    ("Nvidia raises full-year guidance", "英伟达下调全年指引", "directions"),
    ("Nvidia Q2 revenue rises 20%", "Nvidia Q3 revenue rises 20%", "quarters"),
    ("Nvidia 2023 profit rises 20%", "英伟达2024年利润增长20%", "years"),
    ("Nvidia revenue rises 20%", "Nvidia revenue rises 21%", "percents"),
    ("Intel trims forecast to $60bn", "Intel trims forecast to $61 billion", "amounts"),
    ("Goldman upgrades Alibaba", "JPMorgan upgrades Alibaba", "companies"),
    ("Nvidia raises guidance", "AMD raises guidance", "companies"),
    ("Tesla to cut 10,000 jobs", "Tesla to hire 10,000 workers", "directions"),
    ("Tesla recalls 2 million cars", "Tesla raises prices", "kinds"),
])
def test_a_changed_fact_is_a_conflict(a: str, b: str, kind: str) -> None:
    assert kind in conflicts(FX.extract(a), FX.extract(b))


@pytest.mark.parametrize(("a", "b"), [
    ("Morgan Stanley upgrades Amazon to overweight", "Amazon gets an upgrade"),  # a detail left out
    ("Nvidia shares fall despite raising guidance", "Nvidia raises guidance"),  # both directions: no verdict
    ("Microsoft to cut 10,000 jobs", "微软将裁员1万人"),
    ("UPDATE 1-Tesla recalls 2 million vehicles - Reuters", "Tesla recalls over 2 million cars"),
])
def test_a_retelling_has_no_conflict(a: str, b: str) -> None:
    assert conflicts(FX.extract(a), FX.extract(b)) == ()


def test_archive_symbols_and_caller_aliases_count_as_companies() -> None:
    assert FX.extract("Chipmaker beats estimates", symbols=("nvda",)).companies == {"NVDA"}
    custom = FactExtractor({"NKE": ("Nike", "耐克")})
    assert custom.extract("耐克下调指引").companies == {"NKE"}
    assert custom.extract("Nike cuts guidance").companies == {"NKE"}
    assert not FX.extract("CEO says AI demand is strong").companies  # finance acronyms are not companies
