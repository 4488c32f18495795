"""Shared fixtures: a deterministic stand-in encoder and a tiny bilingual labeled set."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest


class HashEncoder:
    """A deterministic encoder for tests: vectors from a hash of the text; counts what it was asked to encode."""

    def __init__(self, name: str = "hash", dim: int = 16) -> None:
        self.name, self._dim = name, dim
        self.seen: list[str] = []

    @property
    def id(self) -> str:
        return f"test:{self.name}"

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        rows = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(f"{self.name}|{t}".encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(self._dim)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self._dim)


EN = {
    "positive": ["{c} beats profit estimates", "{c} shares jump after strong results",
                 "{c} raises full-year outlook", "{c} upgraded to buy", "{c} profit rises on record sales",
                 "{c} wins large contract"],
    "negative": ["{c} misses profit estimates", "{c} shares plunge after weak results",
                 "{c} cuts full-year outlook", "{c} downgraded to sell", "{c} profit falls on weak sales",
                 "{c} loses large contract"],
    "neutral": ["{c} to report results on Monday", "{c} names new finance chief", "{c} schedules annual meeting",
                "{c} files quarterly report", "{c} declares regular dividend", "{c} opens office in London"],
}
ZH = {
    "positive": ["{c}净利润大幅增长", "{c}业绩超预期股价大涨", "{c}上调全年业绩指引", "{c}获上调评级至买入",
                 "{c}营收创历史新高", "{c}中标大额订单"],
    "negative": ["{c}净利润大幅下降", "{c}业绩不及预期股价大跌", "{c}下调全年业绩指引", "{c}遭下调评级至卖出",
                 "{c}营收同比下滑", "{c}丢失大额订单"],
    "neutral": ["{c}将召开股东大会", "{c}聘任新任财务总监", "{c}发布董事会决议公告", "{c}披露年度报告时间",
                "{c}完成工商变更登记", "{c}在上海设立子公司"],
}
EN_COS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark"]
ZH_COS = ["甲公司", "乙集团", "丙科技", "丁股份", "戊银行", "己汽车"]


def tiny_rows(companies_en: Sequence[str] = EN_COS, companies_zh: Sequence[str] = ZH_COS) -> list[tuple[str, str, str]]:
    """(lang, text, label) rows: every phrase with every company."""
    rows = []
    for lang, bank, cos in (("en", EN, companies_en), ("zh", ZH, companies_zh)):
        for label, phrases in bank.items():
            rows.extend((lang, p.format(c=c), label) for p in phrases for c in cos)
    return rows


def write_csv(path: Path, rows: Sequence[tuple[str, str, str]]) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "lang", "text", "label"])
        w.writerows((i, *row) for i, row in enumerate(rows))
    return path


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "tiny.csv", tiny_rows(EN_COS[:4], ZH_COS[:4]))
