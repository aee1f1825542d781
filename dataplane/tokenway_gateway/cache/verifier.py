"""Contradiction checks between a semantic-cache query and a candidate entry's key text.

Embedding similarity cannot tell "convert USD to EUR" from "convert EUR to USD" (cosine ~0.98)
or "port open" from "port closed" (~0.92). A candidate above the threshold is served only if
none of these rules finds a contradiction between the two texts:

* ``negation``: the parity of negation cues differs (not, no, never, n't, without, ...);
* ``antonym``: one side uses a word, the other its opposite (on/off, buy/sell, un-/dis-/de- prefixes,
  mutually exclusive groups such as months, weekdays, seasons, colours);
* ``number``: the numbers (with their units or currencies) differ, including dates and spelled-out
  numbers;
* ``quoted``: quoted strings or code spans differ;
* ``entity``: a named entity or code identifier on one side is absent from the other;
* ``direction``: the same two terms in swapped roles ("from A to B" against "from B to A",
  "A than B" against "B than A"), or the same named entities in a different order;
* ``form``: a different requested output form (list, table, JSON, one word, yes/no, email, ...);
* ``substitution``: the texts are the same request with one or two content words swapped for
  different ones ("reset my password" against "reset my PIN"), unless the words are known synonyms.

Features of a text are computed once (:func:`analyze`) and kept with the cache entry, so a check
is a handful of set operations (tens of microseconds).
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Features", "analyze", "contradiction"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOP = _words("""
a an the and or but if then else of at by for with about against between into through during to from in on up
down out over under again further once here there when where why how all any both each few more most other
some such only own same so than too very s t can will just don should now i me my myself we our ours you your
yours he him his she her hers it its they them their what which who whom this that these those am is are was
were be been being have has had having do does did doing would could might must shall may also please thanks
thank hi hello hey get got gets getting way ways best easiest good right proper possible explain tell know
need want help let mean means meaning exactly actually really usually normally typically one's anyone someone
something thing things give show make use using used go going there's what's it's how's that's i'm i've i'd
you're process steps option options tips tricks idea whether can't don't won't isn't aren't doesn't didn't
shouldn't wasn't weren't couldn't wouldn't hasn't haven't hadn't ok okay like etc eg ie vs via per new much
many
""")

_NEG_WORDS = _words("not no never none nothing nobody nowhere neither nor without cannot")
_NEG_SUFFIX = "n't"

# Words whose difference means a different request even though embeddings place them close.
# One line per group; "|" separates opposing classes (words in one class are equivalent); a line
# without "|" lists mutually exclusive values, one class each.
_GROUP_LINES = """
on | off
open | close closed shut
enable enabled activate | disable disabled deactivate
start begin | stop end
add | remove delete
include | exclude
increase raise boost | decrease lower reduce cut
up | down
rise rising | fall falling drop
buy purchase | sell
gain | lose loss
win | lose
high highest | low lowest
max maximum | min minimum
ascend ascending | descend descending
before | after | during
first | last
early earliest | late latest
encrypt | decrypt
import | export
upload | download
allow allowed permit permitted | forbid forbidden deny block ban prohibit prohibited
accept | reject decline
pass passing | fail failing
push | pull
read | write
true | false
good | bad
benefit benefits advantage pros upside | drawback drawbacks downside cons disadvantage
eat | avoid
cheap inexpensive cheaper cheapest | expensive pricey
more | less fewer
above over | below under
inside | outside
join | leave
lock | unlock
show | hide
upgrade | downgrade
credit | debit
deposit | withdraw withdrawal
borrow | lend
profit | loss
bull bullish | bear bearish
hot warm | cold cool
ice | heat
direct | connecting
free | charge fee
private | public
local | remote
horizontal | vertical
left | right
top | bottom
north | south | east | west
front | back
young | old
male men man | female women woman
day | night
morning | afternoon | evening
am | pm
weekday | weekend
today | tomorrow | yesterday
winter | summer | spring | autumn
january | february | march | april | may | june | july | august | september | october | november | december
monday | tuesday | wednesday | thursday | friday | saturday | sunday
red | blue | green | yellow | black | white | orange | purple | pink | grey gray | brown
checked | carry-on
economy | business | first
sync synchronous | async asynchronous
serialize | deserialize
install | uninstall
subscribe | unsubscribe
lowercase | uppercase
frontend | backend
client | server
sender | recipient receiver
buyer | seller
landlord | tenant
employer | employee
parent | child
adult adults | child children kid kids | teen teenager | baby infant toddler
dog | cat
rent lease | buy
fixed | variable adjustable
"""

_NEG_PREFIXES = ("un", "non", "dis", "in", "im", "il", "ir", "de", "a", "anti", "de-", "non-", "un-")

_SYNONYMS: tuple[frozenset[str], ...] = tuple(frozenset(g.split()) for g in """
buy purchase
fix repair resolve solve
differ difference different distinguish
handle catch
create write make build
avoid prevent
improve boost strengthen increase
symptom sign indication
picture photo image pic
change update modify edit switch
delete remove erase
begin start
quick fast rapid
big large
small little tiny
cheap inexpensive affordable
car vehicle automobile
doctor physician gp
stop quit halt
reach contact
shop store
receive get
send mail
cost price
job work
hurt pain ache
symptom sign
cause trigger
trip travel journey
flight airfare fare
baggage luggage
hotel accommodation
area neighborhood neighbourhood district
repo repository
app application
program script
crypto cryptocurrency
""".strip().splitlines())

_NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000, "dozen": 12, "twice": 2,
    "double": 2, "triple": 3, "half": 0.5, "quarter": 0.25,
}

_UNITS = {
    "%": "%", "percent": "%", "pct": "%",
    "km": "km", "kilometer": "km", "kilometers": "km", "kilometre": "km", "kilometres": "km",
    "mi": "mi", "mile": "mi", "miles": "mi", "m": "m", "meter": "m", "meters": "m", "metre": "m",
    "kg": "kg", "kilo": "kg", "kilos": "kg", "kilogram": "kg", "kilograms": "kg",
    "lb": "lb", "lbs": "lb", "pound": "lb", "pounds": "lb", "g": "g", "gram": "g", "grams": "g",
    "mg": "mg", "mcg": "mcg", "iu": "iu", "ml": "ml", "l": "l", "liter": "l", "liters": "l", "litre": "l",
    "oz": "oz", "ounce": "oz", "ounces": "oz",
    "kb": "kb", "mb": "mb", "gb": "gb", "tb": "tb",
    "c": "c", "°c": "c", "celsius": "c", "f": "f", "°f": "f", "fahrenheit": "f",
    "ms": "ms", "millisecond": "ms", "milliseconds": "ms", "s": "s", "sec": "s", "secs": "s",
    "second": "s", "seconds": "s", "min": "min", "mins": "min", "minute": "min", "minutes": "min",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h", "day": "d", "days": "d",
    "week": "w", "weeks": "w", "month": "mo", "months": "mo", "year": "y", "years": "y", "yr": "y",
    "am": "am", "pm": "pm", "x": "x",
    "usd": "usd", "dollar": "usd", "dollars": "usd", "$": "usd", "bucks": "usd",
    "eur": "eur", "euro": "eur", "euros": "eur", "€": "eur",
    "gbp": "gbp", "£": "gbp", "sterling": "gbp",
    "jpy": "jpy", "yen": "jpy", "¥": "jpy", "cad": "cad", "aud": "aud", "chf": "chf", "inr": "inr",
    "rupee": "inr", "rupees": "inr", "btc": "btc", "bitcoin": "btc", "eth": "eth",
}

_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(p)) for name, p in (
    ("list", r"^\s*(?:list|enumerate)\b|\bas an? (?:\w+ )?list\b|\bin an? (?:bullet|bulleted|numbered) list\b|"
             r"\bin list form\b|\bbullet(?:ed|s)?\b|"
             r"\bnumbered\b|\bchecklist\b|\b(?:give|make|write|provide|create)(?: me)? an? (?:\w+ )?list\b|"
             r"\blist (?:the|\d+|some|all)\b"),
    ("table", r"\b(?:as|in|into|with) an? (?:\w+ )?table\b|\btabular\b|\btable format\b"),
    ("json", r"\bjson\b"), ("yaml", r"\bya?ml\b"), ("csv", r"\bcsv\b"), ("xml", r"\bxml\b"),
    ("markdown", r"\bmarkdown\b"), ("html", r"\bhtml\b"),
    ("one_word", r"\b(?:one|single|1)[ -]word\b|\bin a word\b"),
    ("yes_no", r"\byes or no\b|\byes/no\b|\btrue or false\b"),
    ("one_sentence", r"\b(?:one|single|1|a) sentence\b|\bone[ -]liner\b"),
    ("paragraph", r"\bparagraphs?\b"), ("essay", r"\bessay\b"), ("tweet", r"\btweet\b"),
    ("email", r"\be-?mail\b(?! address)"), ("letter", r"\bletter\b"), ("poem", r"\bpoem\b|\bhaiku\b|\bverse\b"),
    ("blog", r"\bblog\b|\barticle\b"), ("story", r"\bstory\b|\bnarrative\b"), ("outline", r"\boutline\b"),
    ("summary", r"\bsummar(?:y|ize|ise)\b|\btl;?dr\b"),
    ("code_only", r"\bonly (?:the )?code\b|\bjust (?:the )?code\b|\bno explanation\b"),
    ("regex", r"\bregex\b|\bregular expression\b"),
    ("short", r"\bshort\b|\bbrief(?:ly)?\b|\bconcise(?:ly)?\b|\bquick(?:ly)? summary\b"),
    ("detailed", r"\bdetail(?:ed)?\b|\bin[ -]depth\b|\bthorough(?:ly)?\b|\bcomprehensive\b|\blong\b form"),
    ("steps", r"\bstep[ -]by[ -]step\b|\bwalk me through\b"),
    ("example", r"\bworked example\b|\bwith (?:an? )?examples?\b|\bcode examples?\b"),
    ("eli5", r"\bto a (?:\d+|five|ten)[ -]year[ -]old\b|\blike i'?m (?:five|5)\b|\bfor (?:kids|children)\b"),
))

_QUOTED = re.compile(r"\"([^\"]{1,200})\"|“([^”]{1,200})”|`([^`]{1,200})`|(?<![\w])'([^']{1,200})'(?![\w])")
_TOKEN = re.compile(r"[$€£¥]?[A-Za-z0-9_#+°]+(?:[.'\-/&][A-Za-z0-9_#+]+)*(?:\(\))?%?")
_NUM = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_SENT_END = re.compile(r"[.!?:;\n]\s*$")
_DIRECTIONAL = frozenset({"to", "into", "than", "from", "onto", "->"})
_SYMMETRIC = frozenset({"and", "or", "vs", "versus", "between", ",", "&"})


@lru_cache(maxsize=8192)
def _stem(w: str) -> str:
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) <= 3 or not w.isalpha():
        return w
    for suf, rep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", "")):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            if suf == "s" and w.endswith("ss"):
                continue
            if suf == "es" and not w.endswith(("ches", "shes", "xes", "sses", "zes")):
                continue
            w = w[: len(w) - len(suf)] + rep
            if suf in ("ing", "ed") and len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            break
    return w


_OPPOSITES: dict[str, list[tuple[int, int]]] = {}  # stem -> [(group, class)]
for _gi, _line in enumerate(_GROUP_LINES.strip().splitlines()):
    _classes = [c.split() for c in _line.split("|")]
    for _ci, _ws in enumerate(_classes):
        for _w in _ws:
            for _k in {_w, _stem(_w)}:
                if (_gi, _ci) not in _OPPOSITES.setdefault(_k, []):
                    _OPPOSITES[_k].append((_gi, _ci))


def _opposite(a: str, b: str) -> bool:
    ca = _OPPOSITES.get(a)
    cb = _OPPOSITES.get(b)
    if not ca or not cb:
        return False
    same = {g for g, _ in ca} & {g for g, _ in cb}
    if not same:
        return False
    return all(not {c for gg, c in ca if gg == g} & {c for gg, c in cb if gg == g} for g in same)


_SYN_INDEX: dict[str, set[str]] = {}
for _g in _SYNONYMS:
    stems = {_stem(w) for w in _g}
    for _s in stems:
        _SYN_INDEX.setdefault(_s, set()).update(stems)


def _number(s: str) -> str:
    v = float(s.replace(",", ""))
    return repr(int(v)) if v.is_integer() else repr(v)


def _is_identifier(tok: str) -> bool:
    if tok.endswith("()") or "_" in tok or tok.startswith("--"):
        return True
    core = tok.strip("$€£¥%")
    if re.search(r"[a-z][A-Z]", core):  # camelCase
        return True
    if "." in core and not _NUM.fullmatch(core) and re.search(r"[A-Za-z]\.[A-Za-z]", core):
        return True  # dotted names: heapq.heappush, node.js, requirements.txt
    return bool(re.search(r"[A-Za-z]", core) and re.search(r"\d", core))  # v2, 2fa, 401(k)


@dataclass(frozen=True, slots=True)
class Features:
    tokens: frozenset[str]          # lowercased tokens
    stems: frozenset[str]           # stems of all tokens
    content: frozenset[str]         # stems of content words
    content_seq: tuple[str, ...]    # the same, in text order
    token_seq: tuple[str, ...]      # all lowercased tokens, in text order
    negations: int
    numbers: tuple[str, ...]        # sorted "value unit" strings
    quoted: frozenset[str]
    entities: tuple[str, ...]       # lowercased, in order of first appearance
    relations: frozenset[tuple[str, str]]  # (before, after) around directional words
    symmetric_pairs: frozenset[frozenset[str]]
    forms: frozenset[str]


def analyze(text: str) -> Features:
    """Pre-compute what :func:`contradiction` compares (pure, cached by the cache per entry)."""
    quoted = frozenset(
        next(g for g in m.groups() if g is not None).strip().lower() for m in _QUOTED.finditer(text)
    )
    raw = [(m.group(0), m.start()) for m in _TOKEN.finditer(text)]
    toks: list[str] = []
    entities: list[str] = []
    numbers: list[str] = []
    negations = 0
    for idx, (tok, start) in enumerate(raw):
        low = tok.lower()
        toks.append(low)
        if low in _NEG_WORDS or low.endswith(_NEG_SUFFIX) or (
                low == "out" and idx + 1 < len(raw) and raw[idx + 1][0].lower() == "of"):
            negations += 1
        sentence_start = idx == 0 or bool(_SENT_END.search(text[:start])) or text[max(0, start - 1):start] in "\"'`“"
        has_upper = any(ch.isupper() for ch in tok)
        alpha = [ch for ch in tok if ch.isalpha()]
        all_caps = len(alpha) >= 2 and all(ch.isupper() for ch in alpha)
        if low in ("i", "i'm", "i've", "i'd", "i'll"):
            continue
        if _is_identifier(tok) or all_caps or (has_upper and not sentence_start):
            ent = low.rstrip("%")
            if ent not in entities and not _NUM.fullmatch(ent.strip("$€£¥")):
                entities.append(ent)
    # Numbers with their units/currencies (a symbol before or a unit word after).
    low_text = text.lower().replace("yes or no", " ").replace("yes/no", " ")
    ltoks = [t.lower() for t, _ in raw]
    for i, t in enumerate(ltoks):
        unit = ""
        if t and t[0] in "$€£¥":
            unit = _UNITS[t[0]]
            t = t[1:]
        for m in _NUM.finditer(t):
            u = unit
            rest = t[m.end():].lstrip("-")
            if rest:
                u = u or _UNITS.get(rest.rstrip("."), "")
            elif i + 1 < len(ltoks):
                nxt = ltoks[i + 1]
                u = u or _UNITS.get(nxt, "") or _UNITS.get(nxt.split("-")[0], "")
            numbers.append(f"{_number(m.group(0))}{(' ' + u) if u else ''}")
        if t in _NUMBER_WORDS:
            nxt = ltoks[i + 1] if i + 1 < len(ltoks) else ""
            numbers.append(f"{_number(str(_NUMBER_WORDS[t]))}{(' ' + _UNITS[nxt]) if nxt in _UNITS else ''}")
        elif "-" in t and t.split("-")[0] in _NUMBER_WORDS:  # three-day
            head, _, tail = t.partition("-")
            u = _UNITS.get(tail.split("-")[0], "")
            numbers.append(f"{_number(str(_NUMBER_WORDS[head]))}{(' ' + u) if u else ''}")
    stems = [_stem(t) for t in toks]
    content_seq = tuple(s for t, s in zip(toks, stems, strict=True)
                        if t not in _STOP and s not in _STOP and not _NUM.fullmatch(t) and t not in _NUMBER_WORDS)
    content = frozenset(content_seq)
    relations: set[tuple[str, str]] = set()
    sym: set[frozenset[str]] = set()
    for i, t in enumerate(toks):
        if t in _DIRECTIONAL:
            before = _phrase(toks, stems, i, -1)
            after = _phrase(toks, stems, i, +1)
            relations.update((b, a) for b in before for a in after if a != b)
        elif t in _SYMMETRIC:
            before = _phrase(toks, stems, i, -1)
            after = _phrase(toks, stems, i, +1)
            sym.update(frozenset((b, a)) for b in before for a in after if a != b)
    forms = frozenset(name for name, rx in _FORMS if rx.search(low_text))
    return Features(
        tokens=frozenset(toks), stems=frozenset(stems), content=content, content_seq=content_seq,
        token_seq=tuple(toks),
        negations=negations,
        numbers=tuple(sorted(numbers)), quoted=quoted, entities=tuple(entities),
        relations=frozenset(relations), symmetric_pairs=frozenset(sym), forms=forms,
    )


def _phrase(toks: list[str], stems: list[str], i: int, step: int) -> list[str]:
    """Up to three consecutive content stems next to position i (after any leading stopwords)."""
    out: list[str] = []
    j = i + step
    while 0 <= j < len(toks) and len(out) < 3 and abs(j - i) <= 6:
        t = toks[j]
        if t in _DIRECTIONAL or t in _SYMMETRIC:
            break
        if t in _STOP:
            if out:
                break
        else:
            out.append(stems[j])
        j += step
    return out


def _prefix_opposite(a: str, b: str) -> bool:
    return any((a == p + b or b == p + a) and min(len(a), len(b)) >= 4 for p in _NEG_PREFIXES)


def _synonyms(a: str, b: str) -> bool:
    return b in _SYN_INDEX.get(a, ())


def contradiction(q: Features, c: Features) -> str | None:
    """The name of the first rule that finds ``q`` and ``c`` ask different things, else None."""
    if q.negations % 2 != c.negations % 2:
        return "negation"
    if q.numbers != c.numbers:
        return "number"
    if q.quoted != c.quoted:
        return "quoted"
    if q.forms != c.forms:
        return "form"
    only_q = q.stems - c.stems
    only_c = c.stems - q.stems
    if only_q and only_c:
        for a in only_q:
            for b in only_c:
                if _opposite(a, b) or _prefix_opposite(a, b):
                    return "antonym"
    q_ents = set(q.entities)
    c_ents = set(c.entities)
    for e in q_ents - c_ents:
        if e not in c.tokens and _stem(e) not in c.stems:
            return "entity"
    for e in c_ents - q_ents:
        if e not in q.tokens and _stem(e) not in q.stems:
            return "entity"
    for rel in q.relations:
        rev = (rel[1], rel[0])
        if rev in c.relations and rel not in c.relations:
            return "direction"
    shared = [e for e in q.entities if e in c_ents]
    if len(shared) >= 2:
        order_c = [e for e in c.entities if e in q_ents]
        if shared != order_c:
            swapped = {frozenset((x, y)) for x, y in itertools.pairwise(shared)}
            if not any(p in q.symmetric_pairs and p in c.symmetric_pairs for p in swapped):
                return "direction"
    if (len(q.content_seq) >= 2 and q.content_seq != c.content_seq
            and sorted(q.content_seq) == sorted(c.content_seq) and _reordered(q, c)):
        return "direction"
    return _substitution(q, c)


def _reordered(q: Features, c: Features) -> bool:
    """Same words in a swapped order within the same sentence frame ("blue for red" / "red for blue")."""
    # Same frame: the texts agree once content words are blanked out.
    frame_q = [t if t in _STOP else "_" for t in q.token_seq]
    frame_c = [t if t in _STOP else "_" for t in c.token_seq]
    if difflib.SequenceMatcher(a=frame_q, b=frame_c, autojunk=False).ratio() < 0.8:
        return False
    moved = {frozenset((x, y)) for x, y in zip(q.content_seq, q.content_seq[1:], strict=False)
             if (y, x) in zip(c.content_seq, c.content_seq[1:], strict=False)}
    pairs = {frozenset((x, y)) for i, x in enumerate(q.content_seq) for y in q.content_seq[i + 1:]
             if c.content_seq.index(x) > c.content_seq.index(y)}
    swapped = moved | pairs
    return not swapped or not all(p in q.symmetric_pairs and p in c.symmetric_pairs for p in swapped)


def _substitution(q: Features, c: Features) -> str | None:
    """One or two content words replaced in place by different ones, the rest of the request equal."""
    if len(q.content & c.content) < 2:
        return None
    sm = difflib.SequenceMatcher(a=q.content_seq, b=c.content_seq, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op != "replace" or i2 - i1 > 2 or j2 - j1 > 2:
            continue
        old = q.content_seq[i1:i2]
        new = c.content_seq[j1:j2]
        if any(w in c.content for w in old) or any(w in q.content for w in new):
            continue  # moved, not replaced
        if any(_synonyms(a, b) for a in old for b in new):
            continue
        return "substitution"
    return None
