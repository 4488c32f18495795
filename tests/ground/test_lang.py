from __future__ import annotations

import pytest

from ground.lang import detect_language


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("Nvidia shares jump after record revenue", "", "en"),
        ("英伟达股价创新高，市值突破1.2万亿美元", "", "zh"),
        ("英伟达 NVDA 财报超预期", "en", "zh"),  # the script beats the feed's hint
        ("エヌビディア株が上昇", "", "ja"),
        ("엔비디아 주가 상승", "", "ko"),
        ("Акции Nvidia выросли", "", "ru"),
        ("Les actions de Nvidia et la bourse de Paris", "", "other"),
        ("Nvidia Aktien steigen", "de", "de"),
        ("2024 1.2%", "zh-CN", "zh"),
        ("", "", "other"),
    ],
)
def test_detect_language(text: str, hint: str, expected: str) -> None:
    assert detect_language(text, hint) == expected


def test_mixed_headlines_follow_the_han_share() -> None:
    assert detect_language("比亚迪10月销量增长 BYD") == "zh"
    assert detect_language("Apple (AAPL) beats estimates; 苹果") == "en"
