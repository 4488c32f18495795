"""Language of a text (news items, training headlines, queries): a script-ratio heuristic (Han -> zh) with a function-word check for English.

Headlines are short, which statistical detectors handle poorly; the script alone settles Chinese, and for
Latin text the feed's declared language (when given) beats guessing from a dozen words.
"""
from __future__ import annotations

import re

# Han ideographs (CJK Unified, Extension A, Compatibility): the one definition every package uses.
HAN_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN = re.compile(f"[{HAN_RANGES}]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_WORD = re.compile(r"[a-z\u00e0-\u00ff']+")
_NON_ENGLISH_LETTERS = re.compile(r"[\u00c0-\u024f]")
_ENGLISH = frozenset(
    "the a an of to in on for and or is are was were be been has have had will would can could may as at by "
    "from with after before over under amid its it this that than not no up down says said new more less "
    "shares stock stocks market markets profit loss sales revenue rise rises falls fall beats misses".split()
)
_OTHER_LATIN = frozenset(
    "le la les des et du est une pour dans der die das und ist nicht mit den el los las por para que del "
    "il di che per una sono het een van zijn".split()
)
# Share of Han characters among letters above which a text is Chinese (mixed "英伟达 NVDA 财报" still counts).
_HAN_SHARE = 0.3


def detect_language(text: str, hint: str = "") -> str:
    """Return "zh", "en", "ja", "ko", "ru", the hint's primary subtag, or "other" when nothing fits."""
    hint = hint.split("-")[0].split("_")[0].strip().lower()
    han, kana, hangul = len(HAN.findall(text)), len(_KANA.findall(text)), len(_HANGUL.findall(text))
    latin, cyrillic = len(_LATIN.findall(text)), len(_CYRILLIC.findall(text))
    letters = han + kana + hangul + latin + cyrillic
    if letters == 0:
        return hint or "other"
    if kana and kana + han >= _HAN_SHARE * letters:
        return "ja"
    if han >= _HAN_SHARE * letters:
        return "zh"
    if hangul >= _HAN_SHARE * letters:
        return "ko"
    if cyrillic > latin:
        return "ru"
    if hint and hint not in {"zh", "ja", "ko", "ru"}:
        return hint
    words = _WORD.findall(text.lower())
    english = sum(w in _ENGLISH for w in words)
    other = sum(w in _OTHER_LATIN for w in words)
    accented = len(_NON_ENGLISH_LETTERS.findall(text))
    if other > english or accented > 0.05 * latin:
        return "other"
    return "en"
