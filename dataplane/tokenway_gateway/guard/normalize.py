"""Undo the obfuscations attackers use to slip instructions past a pattern filter.

``views(text)`` returns the forms of one prompt that the heuristics scan: the prompt
folded to lower-case ASCII (NFKC for full-width and styled letters, Unicode TR39
confusables for homoglyphs, invisible characters dropped), leetspeak read back as
letters, letter-spaced words joined up, text hidden in Unicode tag characters,
base64 or hex payloads decoded, and the prompt read reversed when it names the trick ("read
it backwards", "reverse this") or through ROT13 when it names it ("rot13") or reads as it
(:func:`looks_rot13`). Every
step is bounded: at most ``MAX_SCAN_CHARS`` of a prompt are scanned (its head and its
tail), at most ``MAX_PAYLOADS`` payloads of at most ``MAX_PAYLOAD_CHARS`` each are
decoded, and a ROT13 or reversed view is of the last ``MAX_PAYLOAD_CHARS`` only, so a
huge prompt costs no more than a long one.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

MAX_SCAN_CHARS = 8_192
MAX_PAYLOADS = 4
MAX_PAYLOAD_CHARS = 4_096
MIN_PAYLOAD_CHARS = 16
MAX_SEGMENT_CHARS = 512  # letters of one letter-spaced run that are split back into words

# Characters that render as nothing (or nearly): zero-width spaces and joiners, word joiner,
# invisible operators, BOM, soft hyphen, Mongolian vowel separator, combining grapheme joiner,
# bidirectional controls, Hangul fillers.
_INVISIBLE = (
    *(0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0),
    *range(0x200B, 0x2010),
    *range(0x202A, 0x202F),
    *range(0x2060, 0x2070),
    *range(0xFE00, 0xFE10),  # variation selectors
)
_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F
_TAG_RUN = re.compile("[\U000e0000-\U000e007f]+")
_FLAG_BASE = "\U0001f3f4"  # a waving black flag followed by tag letters is a subdivision flag (Scotland, Wales)

_LEET = str.maketrans(
    {"4": "a", "@": "a", "3": "e", "1": "i", "!": "i", "0": "o", "5": "s", "$": "s", "7": "t", "9": "g", "+": "t"}
)
_LEET_TOKEN = re.compile(r"[a-z]*[0-9@$!+][a-z0-9@$!+]*")
_MAX_ONES = 4  # leet tokens with more ambiguous 1s (i or l) than this are read with every 1 as i
_LEET_LETTERS = re.compile(r"[a-z]")
_LEET_CHAR = re.compile(r"[0-9@$!+]")
_HEX_TOKEN = re.compile(r"[0-9a-f]{6,}")
_MAX_LEET_TOKEN = 24  # a longer run of letters and digits is an id, a hash or a payload, not a word
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*]){3,}[a-z]\b")
_NON_LETTER = re.compile(r"[^a-z]+")
_BASE64 = re.compile(rf"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{{{MIN_PAYLOAD_CHARS},}}={{0,2}}")
_FULLWIDTH = re.compile("[\uff01-\uff5e]")
_NON_ASCII_WORD = re.compile(r"\w*[^\x00-\x7f]\w*")
_INVISIBLE_CLASS = "".join(f"\\U{cp:08x}" for cp in _INVISIBLE)
_INVISIBLE_IN_WORD = re.compile(f"[A-Za-z][{_INVISIBLE_CLASS}]+(?=[A-Za-z])")
_HEX = re.compile(r"(?:\\x[0-9a-fA-F]{2}){8,}|(?:[0-9a-fA-F]{2}[ :]?){8,}")
# A prompt is read through ROT13, or reversed, only when it names the trick (or, for ROT13, reads as
# it, see looks_rot13): decoding every prompt would add a view of gibberish words to each. The decoded
# view is at most MAX_PAYLOAD_CHARS long.
_ROT13_CUE = re.compile(r"\brot[ -]?13\b|\bcaesar\b")
_REVERSED_CUE = re.compile(r"\brevers|\bbackwards?\b|\bflip\b|\bflipped\b|\bmirror|right[ -]to[ -]left")
_ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZabcdefghijklm"
)
# ... or when, without a cue, far more of its words are common English words read through ROT13 than
# read as they are (a carrier sentence in plain English keeps the raw count up). Only the first
# _ROT13_SNIFF_CHARS are counted.
_COMMON = frozenset(
    {
        *("the", "you", "your", "and", "to", "of", "is", "are", "in", "that", "it", "for", "with", "be"),
        *("not", "now", "this", "all", "my", "me", "what", "from", "have", "will", "must", "can", "do"),
        *("on", "as", "or", "at", "by", "any", "no"),
    }
)
_COMMON_ROT13 = frozenset(word.translate(_ROT13) for word in _COMMON)
_ROT13_SNIFF_CHARS = 2_048
_ASCII_WORD = re.compile(r"[a-z]+")


def looks_rot13(lowered: str) -> bool:
    """Whether a lower-cased prompt reads as ROT13 English: at least 4 common words when decoded, and
    at least twice as many (plus 2) as when read as it is."""
    words = _ASCII_WORD.findall(lowered[:_ROT13_SNIFF_CHARS])
    if len(words) < 6:
        return False
    decoded = sum(word in _COMMON_ROT13 for word in words)
    return decoded >= 4 and decoded >= 2 * sum(word in _COMMON for word in words) + 2


@dataclass(frozen=True, slots=True)
class Views:
    """The scannable forms of one prompt."""

    text: list[str]  # each a lower-case, mostly ASCII form to run the patterns on
    compact: str  # letters only, for patterns that must survive any spacing trick
    signals: tuple[str, ...]  # obfuscations seen (tags, invisible, mixed-script, base64, hex, leetspeak, spaced,
    # rot13, reversed)


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str | None]:
    """One translate table: invisible characters dropped, confusables mapped to their ASCII look-alike."""
    table: dict[int, str | None] = {cp: None for cp in _INVISIBLE}
    try:
        data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - the dependency is declared
        data = {}
    for char, homoglyphs in data.items():
        if len(char) != 1 or ord(char) < 128:
            continue
        targets = [h["c"] for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalnum()]
        if targets:
            target = ([t for t in targets if t.isalpha()] or targets)[0].lower()
            if target == "l" and char.isupper():
                target = "i"  # TR39 folds capital I into l; a capital look-alike of l is an I
            table[ord(char)] = target
    return table


def clip(text: str, limit: int = MAX_SCAN_CHARS) -> str:
    """The part of a prompt that is scanned: all of it, or its head and tail when it is longer than ``limit``."""
    if len(text) <= limit:
        return text
    half = max(1, limit // 2)
    return text[:half] + "\n" + text[-half:]


def _hidden_tags(text: str) -> tuple[str, str]:
    """Remove Unicode tag characters; return (visible text, the ASCII they spell)."""
    hidden: list[str] = []

    def take(match: re.Match[str]) -> str:
        start = match.start()
        if start > 0 and text[start - 1] == _FLAG_BASE:
            return ""  # emoji subdivision flag
        hidden.append("".join(chr(ord(c) - _TAG_FIRST) for c in match.group() if 0x20 <= ord(c) - _TAG_FIRST < 0x7F))
        return " "

    visible = _TAG_RUN.sub(take, text)
    return visible, " ".join(h for h in hidden if h)


def fold(text: str) -> tuple[str, tuple[str, ...]]:
    """Lower-case ASCII skeleton of ``text`` and the obfuscations removed on the way."""
    if text.isascii():
        return text.lower(), ()
    signals: list[str] = []
    if _TAG_RUN.search(text):
        text, _ = _hidden_tags(text)
    nfkc = unicodedata.normalize("NFKC", text)
    if nfkc != text and _fullwidth_count(text) >= 4:
        signals.append("fullwidth")
    folded = nfkc.translate(_fold_table())
    if _mixed_script(nfkc):
        signals.append("mixed-script")
    if _invisible_inside_words(nfkc):
        signals.append("invisible")
    return folded.lower(), tuple(signals)


def _fullwidth_count(text: str) -> int:
    return len(_FULLWIDTH.findall(text, 0, MAX_SCAN_CHARS))


def _mixed_script(nfkc: str) -> bool:
    """A word that mixes ASCII letters with look-alikes from another script (Cyrillic i and o in ``ignore``)."""
    table = _fold_table()
    for match in _NON_ASCII_WORD.finditer(nfkc):
        word = match.group()
        if any(c.isascii() and c.isalpha() for c in word) and any(
            not c.isascii() and isinstance(table.get(ord(c)), str) for c in word
        ):
            return True
    return False


def _invisible_inside_words(text: str) -> bool:
    """Three or more invisible characters between ASCII letters (ZWJ in emoji, ZWNJ in Persian don't count)."""
    return any(n >= 2 for n, _ in enumerate(_INVISIBLE_IN_WORD.finditer(text)))


def _read_leet(token: str, lexicon: frozenset[str]) -> str:
    """One leet token as letters; a 1 is an i unless reading it as l makes a word of ``lexicon``."""
    plain = token.translate(_LEET)
    ones = [i for i, c in enumerate(token) if c == "1"]
    if not ones or not lexicon or plain in lexicon or len(ones) > _MAX_ONES:
        return plain
    letters = list(plain)
    for mask in range(1, 1 << len(ones)):
        for bit, index in enumerate(ones):
            letters[index] = "l" if mask >> bit & 1 else "i"
        word = "".join(letters)
        if word in lexicon or word.rstrip("s") in lexicon:
            return word
    return plain


def unleet(folded: str, lexicon: frozenset[str] = frozenset()) -> str | None:
    """Leetspeak read as letters (``1gn0r3 4ll ru13s`` -> ``ignore all rules``); None when there is none."""
    out: list[str] = []
    last = 0
    for match in _LEET_TOKEN.finditer(folded):
        token = match.group().rstrip("!")
        if (
            len(token) > _MAX_LEET_TOKEN
            or not _LEET_LETTERS.search(token)
            or not _LEET_CHAR.search(token)
            or _HEX_TOKEN.fullmatch(token)
        ):
            continue
        out.append(folded[last : match.start()])
        out.append(_read_leet(token, lexicon))
        last = match.start() + len(token)
    if not out:
        return None
    out.append(folded[last:])
    return "".join(out)


def segment(letters: str, vocabulary: frozenset[str]) -> str:
    """Split a run of letters into words of ``vocabulary`` (``ignoreallrules`` -> ``ignore all rules``).

    Dynamic programming that maximises the squared length of the known words used; letters that
    start no known word stay as they are. Linear in the run (words are at most 20 letters).
    """
    letters = letters[:MAX_SEGMENT_CHARS]
    n = len(letters)
    best: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (score, start of the last piece)
    for end in range(1, n + 1):
        choice = (best[end - 1][0], end - 1)  # one letter on its own
        for start in range(max(0, end - 20), end - 1):
            if letters[start:end] in vocabulary:
                score = best[start][0] + (end - start) ** 2
                if score > choice[0]:
                    choice = (score, start)
        best[end] = choice
    pieces: list[str] = []
    end = n
    while end > 0:
        start = best[end][1]
        pieces.append(letters[start:end])
        end = start
    words: list[str] = []
    for piece in reversed(pieces):  # glue runs of unknown single letters back together
        if len(piece) == 1 and piece not in vocabulary and words and words[-1][-1:] != " " and len(words[-1]) == 1:
            words[-1] += piece
        else:
            words.append(piece)
    return " ".join(words)


def unspace(folded: str, vocabulary: frozenset[str] = frozenset()) -> str | None:
    """Join letter-spaced words (``i g n o r e  a l l`` -> ``ignore all``); None when there are none.

    Spacing often hides the gaps between words too, so the joined letters are split again into
    words of ``vocabulary`` when one is given.
    """
    if not _SPACED.search(folded):
        return None

    def join(match: re.Match[str]) -> str:
        letters = _NON_LETTER.sub("", match.group())
        return (segment(letters, vocabulary) if vocabulary else letters) + " "

    return _SPACED.sub(join, folded)


def _printable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text:
        return None
    good = sum(1 for c in text if c.isprintable() or c in "\n\t\r")
    letters = sum(1 for c in text if c.isalpha())
    if good < 0.95 * len(text) or letters < 0.5 * len(text.replace(" ", "")):
        return None
    return text


def decode_payloads(text: str) -> list[tuple[str, str, tuple[int, int]]]:
    """Base64 and hex runs in ``text`` that decode to readable text: [(kind, decoded, span)], bounded."""
    found: list[tuple[str, str, tuple[int, int]]] = []
    for match in _BASE64.finditer(text):
        if len(found) >= MAX_PAYLOADS:
            return found
        run = match.group()[:MAX_PAYLOAD_CHARS]
        if not (any(c.isdigit() or c.isupper() for c in run) and any(c.islower() for c in run)):
            continue  # a long lower-case word or an all-caps shout is not base64
        run = run[: len(run.rstrip("=")) // 4 * 4 + (4 if len(run.rstrip("=")) % 4 else 0)]
        try:
            raw = base64.b64decode(run + "=" * (-len(run) % 4), altchars=b"-_" if ("-" in run or "_" in run) else None)
        except (binascii.Error, ValueError):
            continue
        decoded = _printable(raw)
        if decoded is not None:
            found.append(("base64", decoded, match.span()))
    for match in _HEX.finditer(text):
        if len(found) >= MAX_PAYLOADS:
            return found
        digits = re.sub(r"\\x|[ :]", "", match.group()[: MAX_PAYLOAD_CHARS * 2])
        if len(digits) % 2:
            digits = digits[:-1]
        try:
            raw = bytes.fromhex(digits)
        except ValueError:
            continue
        decoded = _printable(raw)
        if decoded is not None and not any(a < match.end() and match.start() < b for _, _, (a, b) in found):
            found.append(("hex", decoded, match.span()))
    return found


def views(text: str, lexicon: frozenset[str] = frozenset()) -> Views:
    """Every form of ``text`` the heuristics scan, and the obfuscations found."""
    text = clip(text)
    signals: list[str] = []
    sources: list[str] = [text]
    if not text.isascii() and _TAG_RUN.search(text):
        text, hidden = _hidden_tags(text)
        sources[0] = text
        if len(hidden) >= 4:
            signals.append("tags")
            sources.append(hidden)
    payloads = decode_payloads(text)
    for kind, decoded, _ in payloads:
        signals.append(kind)
        sources.append(decoded[:MAX_PAYLOAD_CHARS])
    for _, _, (start, end) in reversed(payloads):  # the encoded run itself holds nothing to match
        text = text[:start] + " " + text[end:]
    sources[0] = text
    cued = text[:MAX_SCAN_CHARS].lower()
    if _ROT13_CUE.search(cued) or looks_rot13(cued):
        signals.append("rot13")
        sources.append(text[-MAX_PAYLOAD_CHARS:].translate(_ROT13))
    if _REVERSED_CUE.search(cued):
        signals.append("reversed")
        sources.append(text[-MAX_PAYLOAD_CHARS:][::-1])
    out: list[str] = []
    for source in sources:
        folded, found = fold(source)
        signals.extend(found)
        out.append(folded)
        leet = unleet(folded, lexicon)
        if leet is not None:
            signals.append("leetspeak")
            out.append(leet)
        spaced = unspace(folded, lexicon)
        if spaced is not None:
            signals.append("spaced")
            out.append(spaced)
    compact = " ".join(_NON_LETTER.sub("", form) for form in out)
    return Views(text=out, compact=compact, signals=tuple(dict.fromkeys(signals)))
