"""HTML -> plain text for stored news: no markup, no script or style content, entities decoded.

Feeds put HTML (sometimes escaped twice) in titles and summaries, and hostile feeds put scripts there. Stored
text is plain text only, so nothing downstream (a report page, a model) ever sees markup.
"""
from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

# Elements whose content is not readable text: dropped entirely, not just their tags.
_SKIP_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math", "head", "frameset",
     "applet", "select", "textarea", "frame", "noembed", "noframes", "xmp", "plaintext"}
)
# Elements that separate words when rendered.
_BREAKS = frozenset(
    {"br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "h4", "h5", "h6",
     "blockquote", "pre", "hr", "section", "article", "header", "footer", "dd", "dt", "img"}
)
# A closed tag, a comment, or the "<" of an unclosed tag (removing that "<" is enough to defuse it).
_TAG_LIKE = re.compile(r"<[/!?]?[a-zA-Z][^<>]*>|<!--.*?-->|<!--|<(?=[/!?]?[a-zA-Z])", re.DOTALL)
_SCRIPT_SCHEME = re.compile(
    r"(?:j\s*a\s*v\s*a|v\s*b)\s*s\s*c\s*r\s*i\s*p\s*t\s*:|d\s*a\s*t\s*a\s*:\s*text/html", re.IGNORECASE
)
_INVISIBLE = dict.fromkeys(
    [c for c in range(0x20) if chr(c) not in "\t\n\r"] + [0x7F, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF], " "
)
_MAX_PASSES = 4


class _TextExtractor(HTMLParser):
    """Collects text nodes outside non-text elements; attributes are never read, so on* handlers vanish."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_CONTENT:
            self._skip_depth += 1
        if tag in _SKIP_CONTENT or tag in _BREAKS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_CONTENT or tag in _BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_CONTENT:
            self._skip_depth = max(0, self._skip_depth - 1)
        if tag in _SKIP_CONTENT or tag in _BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def _extract(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def to_plain_text(markup: str, max_chars: int | None = None) -> str:
    """Plain text of an HTML fragment: tags and non-text elements removed, entities decoded, spaces collapsed.

    Runs again while the decoded text still looks like markup (double-escaped HTML), then removes anything
    tag-like or script-scheme-like that survived, so stored text never carries `<script` or `javascript:`.
    """
    text = markup or ""
    for _ in range(_MAX_PASSES):
        text = _extract(text)
        if not _TAG_LIKE.search(text):
            break
    previous = None
    while previous != text:
        previous = text
        text = _SCRIPT_SCHEME.sub(" ", _TAG_LIKE.sub(" ", text))
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE))
    text = " ".join(text.split())
    return truncate(text, max_chars) if max_chars is not None else text


def truncate(text: str, max_chars: int) -> str:
    """Cut plain text to at most `max_chars` (plus an ellipsis), at a space when one is near the end."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    return (cut[:space] if space > max_chars // 2 else cut).rstrip() + "…"
