"""Feed bytes -> UTF-8 bytes, with the text encoding checked instead of trusted.

Servers mislabel encodings: a Chinese feed declared UTF-8 but sent as GB18030 was decoded by feedparser's
fallback as Windows-1252 and stored as mojibake ("»¦Éî300..." for "沪深300..."). Here the declared encoding
(HTTP charset, then the XML declaration, a byte-order mark first of all) is used only when the bytes decode
under it strictly; otherwise the encoding is detected (charset-normalizer) and used only when the result is
clean text. A document whose encoding cannot be told is rejected: no text from it is stored.
"""
from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass

import charset_normalizer

logger = logging.getLogger(__name__)

#: Highest "mess" (charset-normalizer's chaos ratio) a detected decoding may have to be trusted.
MAX_CHAOS = 0.1
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_XML_DECL = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([A-Za-z0-9._:-]+)(["'])""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_TEXT_DECL = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([A-Za-z0-9._:-]+)(["'])""")


class UndecodableError(ValueError):
    """The bytes do not decode under the declared encoding and no clean encoding could be detected."""


@dataclass(frozen=True)
class Decoded:
    """The document re-encoded as UTF-8 (XML declaration and content type saying so) and how it was read."""

    body: bytes
    content_type: str
    encoding: str
    declared: str

    @property
    def mislabelled(self) -> bool:
        """True when the encoding used is not the one the document or server declared."""
        return bool(self.declared) and _canonical(self.declared) != _canonical(self.encoding)


def _canonical(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name.lower()


def _declared(body: bytes, content_type: str) -> str:
    found = _CHARSET.search(content_type or "")
    if found:
        return found.group(1)
    decl = _XML_DECL.match(body)
    return decl.group(2).decode("ascii") if decl else ""


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_document(body: bytes, content_type: str = "") -> Decoded:
    """Decode ``body`` (see the module docstring) and return it as UTF-8; UndecodableError when unsure."""
    declared = _declared(body, content_type)
    text, encoding = None, ""
    for bom, name in _BOMS:
        if body.startswith(bom):
            text, encoding = _strict(body[len(bom):], name), name
            break
    if text is None and not encoding:
        # Valid UTF-8 with non-ASCII bytes almost never happens by chance in a legacy encoding, so it wins
        # over a legacy declaration (the usual mislabel in the other direction).
        utf8 = _strict(body, "utf-8")
        if utf8 is not None and (not declared or not body.isascii()):
            text, encoding = utf8, "utf-8"
        elif declared:
            text, encoding = _strict(body, declared), declared
        if text is None:
            best = charset_normalizer.from_bytes(body).best()
            if best is None or best.chaos > MAX_CHAOS:
                raise UndecodableError(
                    f"bytes are not valid {declared or 'UTF-8'} and no clean text encoding was found")
            text, encoding = str(best), best.encoding
            logger.info("document declared %s decodes cleanly only as %s", declared or "nothing", encoding)
    if text is None:
        raise UndecodableError(f"bytes after the {encoding} byte-order mark are not valid {encoding}")
    text = _TEXT_DECL.sub(lambda m: f"{m.group(1)}utf-8{m.group(3)}", text, count=1)
    media = (content_type or "application/xml").split(";")[0].strip() or "application/xml"
    return Decoded(text.encode("utf-8"), f"{media}; charset=utf-8", _canonical(encoding), declared)
