from __future__ import annotations

import pytest

from feeds.news.sanitize import to_plain_text, truncate


def test_markup_removed_and_entities_decoded() -> None:
    html = "<p>Revenue rose <b>265%</b> &amp; margins&nbsp;widened &#25105; &quot;ok&quot;</p>"
    assert to_plain_text(html) == 'Revenue rose 265% & margins widened 我 "ok"'


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert('owned')</script>",
        "<SCRIPT type='text/javascript'>alert('owned')</SCRIPT>",
        "<style>body{display:none}</style>",
        "<iframe src='https://evil.example/'>alert('owned')</iframe>",
        "<object data='x.swf'>alert('owned')</object>",
        "<script>alert('owned')",  # never closed
        "&lt;script&gt;alert('owned')&lt;/script&gt;",  # escaped once more than it should be
    ],
)
def test_non_text_elements_lose_their_content(html: str) -> None:
    text = to_plain_text(f"before {html} after")
    assert "alert" not in text and "display" not in text
    assert "<script" not in text.lower()
    assert text.startswith("before")


def test_attributes_never_reach_text() -> None:
    html = ('<p onclick="steal()" style="x">Hi</p><img src=x onerror="alert(1)">'
            '<a href="javascript:alert(2)" onmouseover="evil()">link</a>')
    text = to_plain_text(html)
    assert text == "Hi link"


def test_script_schemes_in_text_are_removed() -> None:
    text = to_plain_text("click javascript:alert(1) or JaVa\tScRiPt :x or vbscript:msgbox")
    assert "javascript" not in text.lower().replace(" ", "")
    assert "vbscript:" not in text.lower()
    assert "click" in text


def test_leftover_tag_fragments_are_defused() -> None:
    assert "<script" not in to_plain_text("x &lt;scr&lt;script&gt;ipt&gt; y").lower()
    assert to_plain_text("price < 5 and > 3") == "price < 5 and > 3"


def test_whitespace_and_invisible_characters_collapse() -> None:
    assert to_plain_text("a\n\n  b\t\u200bc\u3000d\x00e") == "a b c d e"
    assert to_plain_text("") == ""


def test_truncate_cuts_at_a_space() -> None:
    assert truncate("alpha beta gamma delta", 12) == "alpha beta…"
    assert truncate("short", 12) == "short"
    assert len(to_plain_text("x" * 50, max_chars=10)) == 11
