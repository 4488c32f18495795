from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from feeds.news.config import FeedConfig
from feeds.news.parse import parse_feed
from feeds.news.symbols import SymbolMatcher

FETCHED = datetime(2024, 1, 6, 12, 0, tzinfo=timezone.utc)
MATCHER = SymbolMatcher({"NVDA": ["Nvidia", "英伟达"], "AMD": ["Advanced Micro Devices"], "TSM": ["TSMC"],
                         "600519.SS": ["贵州茅台"]})


def _parse(data_dir: Path, name: str, **feed: object) -> object:
    config = FeedConfig(name=name, url=f"http://127.0.0.1/{name}", **feed)  # type: ignore[arg-type]
    return parse_feed((data_dir / name).read_bytes(), config, fetched_at=FETCHED, matcher=MATCHER)


def test_rss_items_are_sanitised_dated_and_tagged(data_dir: Path) -> None:
    parsed = _parse(data_dir, "yahoo_nvda.xml", lang="en", symbols=("NVDA",))
    assert parsed.entries == 4 and parsed.ill_formed == ""
    first, second = parsed.items
    assert first.title == "Nvidia shares jump 6% after record data-center revenue"
    assert first.summary == "Revenue rose 265% & margins widened. Read more"
    assert first.published == datetime(2024, 1, 4, 14, 30, tzinfo=timezone.utc)
    assert first.fetched_at == FETCHED and first.source == "yahoo_nvda.xml" and first.lang == "en"
    assert first.link == "https://finance.example.com/news/nvidia-record-revenue-101.html"
    assert second.title == "AMD and $NVDA slip as chip stocks cool"
    assert second.summary == "Semiconductor names retreated; Advanced Micro Devices fell 2%."
    assert second.symbols == ("AMD", "NVDA")
    for item in parsed.items:
        for text in (item.title, item.summary):
            for bad in ("<", "alert", "steal", "onclick", "onerror", "javascript", "iframe text", ".x{}"):
                assert bad not in text


def test_rejections_carry_reasons(data_dir: Path) -> None:
    parsed = _parse(data_dir, "yahoo_nvda.xml", symbols=("NVDA",))
    reasons = {r.entry: r.reason for r in parsed.rejected}
    assert reasons == {3: "unreliable date: unrecognised date format 'someday soon'", 4: "no title or summary"}


def test_chinese_feed_in_gb2312_with_chinese_dates(data_dir: Path) -> None:
    parsed = _parse(data_dir, "sina_zh_gb2312.xml", lang="zh")
    nvda, moutai = parsed.items
    assert nvda.title == "英伟达股价创新高，市值突破1.2万亿美元"
    assert nvda.summary == "受人工智能需求推动，英伟达股价上涨。"
    assert nvda.published == datetime(2024, 1, 4, 2, 0, tzinfo=timezone.utc)  # 10:00 Beijing time
    assert moutai.published == datetime(2024, 1, 4, 7, 30, tzinfo=timezone.utc)  # 下午3:30
    assert (nvda.lang, nvda.symbols, moutai.symbols) == ("zh", ("NVDA",), ("600519.SS",))
    [rejected] = parsed.rejected
    assert rejected.entry == 3 and "relative Chinese date" in rejected.reason


def test_feedparser_misdated_string_never_stored_with_the_wrong_date() -> None:
    doc = ("<rss version='2.0'><channel><item><title>英伟达发布新品</title>"
           "<pubDate>2024年1月4日 10:00</pubDate></item></channel></rss>").encode()
    parsed = parse_feed(doc, FeedConfig(name="zh", url="https://zh.example/rss"), fetched_at=FETCHED)
    [item] = parsed.items
    assert item.published == datetime(2024, 1, 4, 2, 0, tzinfo=timezone.utc)


def test_atom_updated_only_dates_and_future_dated_items(data_dir: Path) -> None:
    parsed = _parse(data_dir, "atom_updates.xml")
    tsmc, keynote, embargoed = parsed.items
    assert tsmc.published == datetime(2024, 1, 5, 8, 0, tzinfo=timezone.utc)  # from <updated>
    assert keynote.published == datetime(2024, 1, 5, 14, 0, tzinfo=timezone.utc)  # <published> wins
    assert keynote.summary == "Jensen Huang will speak on stage."
    assert embargoed.published.year == 2030 and parsed.future_dated == 1
    assert tsmc.symbols == ("TSM",)


def test_undated_entries_use_the_fetch_time_and_keep_their_id() -> None:
    doc = b"<rss version='2.0'><channel><item><title>No date here</title></item></channel></rss>"
    feed = FeedConfig(name="nodate", url="https://nodate.example/rss")
    first = parse_feed(doc, feed, fetched_at=FETCHED).items[0]
    later = parse_feed(doc, feed, fetched_at=FETCHED.replace(hour=18)).items[0]
    assert first.published == FETCHED and not first.dated
    assert first.id == later.id


def test_ill_formed_documents_are_reported_not_raised() -> None:
    feed = FeedConfig(name="bad", url="https://bad.example/rss")
    for body in (b"", b"\x00\xff\xfe garbage", b"{\"json\": true}", b"<html><body>Not found</body></html>"):
        parsed = parse_feed(body, feed, fetched_at=FETCHED)
        assert parsed.ill_formed
    recovered = parse_feed(b"<rss><channel><item><title>Kept &amp; read</title></item><item>", feed,
                           fetched_at=FETCHED)
    assert [i.title for i in recovered.items] == ["Kept & read"] and recovered.ill_formed


def test_duplicate_ids_in_one_feed_are_rejected_and_unsafe_links_dropped() -> None:
    doc = (b"<rss version='2.0'><channel>"
           b"<item><guid>https://x.example/1</guid><title>One</title><link>javascript:alert(1)</link></item>"
           b"<item><guid>https://x.example/1</guid><title>One again</title></item>"
           b"</channel></rss>")
    parsed = parse_feed(doc, FeedConfig(name="dup", url="https://x.example/rss"), fetched_at=FETCHED)
    assert [i.title for i in parsed.items] == ["One"] and parsed.items[0].link == ""
    assert [r.reason for r in parsed.rejected] == ["duplicate id within the feed"]


def test_entry_without_title_takes_its_summary() -> None:
    doc = (b"<rss version='2.0'><channel><item><description>&lt;p&gt;Only a body&lt;/p&gt;</description></item>"
           b"</channel></rss>")
    [item] = parse_feed(doc, FeedConfig(name="t", url="https://t.example/rss"), fetched_at=FETCHED).items
    assert (item.title, item.summary) == ("Only a body", "")
