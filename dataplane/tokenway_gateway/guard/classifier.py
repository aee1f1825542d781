"""The guard's trained classifier: a logistic regression over the normalised prompt's n-grams.

Features (all binary, each counted once per prompt):
- ``w:<word>`` and ``b:<word> <word>``: words and word pairs of every normalised view (the
  obfuscations are undone first by :func:`.normalize.views`, so a homoglyph or base64 attack
  reads as its plain text);
- ``s:<stem>``: the first ``STEM`` letters of each longer word, so "ignoring" and "ignored"
  share evidence with "ignore";
- ``u:<two characters>``: character pairs of words in other scripts (the folded view keeps
  Cyrillic, CJK and accented words), so attacks in other languages have features at all;
- ``f:<family>`` and ``o:<signal>``: the heuristic rule families that fired and the
  obfuscations seen, so the model weighs the hand-written rules rather than replacing them;
- ``q:<framing>``: how the prompt holds a quotation (of three words or more, in quotation marks):
  ``q:quoted`` that it has one, ``q:ask`` that the words outside it ask about it (summarise,
  review, classify, "is this", explain...), ``q:obey`` that they pass it on to be acted on
  ("do what it says", "follow it", "carry out"...). A user asking about an attack they quote and
  one sending it inside a "summarise this" wrapper share most words; these tell them apart.
  Code fences and ``>`` block-quote lines count as quotations too;
- ``i:w:``, ``i:b:``, ``i:s:``: the words, pairs and stems *inside* a quotation that is not passed
  on to be obeyed (no ``q:obey``), besides their plain ``w:``/``b:``/``s:`` features. "ignore your
  instructions" quoted in a pentest finding or a log line the user asks about then carries its plain
  weight plus a correction learnt for quoted words, which the same words addressed to the model do
  not get. (Replacing the plain names instead, or prefixing only when ``q:ask`` fires, lost more
  attacks on left-out heldout5: injections inside pasted messages are quoted too.)

Scoring is one dictionary look-up per feature and a sigmoid: tens of microseconds for a chat
prompt. The weights ship as ``classifier_weights.json`` in this package and are regenerated,
deterministically, by ``bench/train_guard.py`` (which also reports its grouped cross-validation).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from itertools import pairwise

WEIGHTS_FILE = "classifier_weights.json"
STEM = 5  # letters kept of a word of more than STEM letters
MAX_FORM_CHARS = 2_048  # head and tail of each view that the n-grams are taken from
_WORD = re.compile(r"[a-z]+")
_FOREIGN = re.compile(r"[^\W\d_]*[^\x00-\x7f\W\d_][^\W\d_]*")  # a word holding a non-ASCII letter
MAX_FOREIGN_WORDS = 64
# a quotation: quotation marks (straight, curly, guillemets) around at least three words; the first
# view only (the folded prompt); an apostrophe inside a word does not open or close one
_QUOTED = re.compile(
    r"""(?:(?<![a-z0-9])'|["\u201c\u2018\u00ab])([^"'\u201c\u201d\u2018\u2019\u00ab\u00bb]*?\s[^"'\u201c\u201d\u2018\u2019\u00ab\u00bb]*?\s[^"'\u201c\u201d\u2018\u2019\u00ab\u00bb]*?)(?:'(?![a-z0-9])|["\u201d\u2019\u00bb])"""
)
_ASK = re.compile(
    r"\b(?:summari[sz]|summary|condense|shorten|review|critique|proofread|classify|label|analy[sz]|explain|"
    r"is (?:this|that|it)|was (?:this|that|it)|does (?:this|that|it)|what (?:was|is|does)|why (?:do|does|would)|"
    r"translate|paraphrase|quote|rewrite|tighten|improve|rate|check)"
)
_OBEY = re.compile(
    r"\b(?:do (?:what|as) (?:it|they|this)|follow (?:it|them|this|that|the instructions)|obey|carry (?:it |them )?out|"
    r"act on|execute|comply|apply it|treat (?:it|them|this) as (?:your|real)|then do it|do it\b)"
)
MAX_QUOTE_SCAN = 2_048
_FENCE = re.compile(r"```[^`]*(?:```|$)")  # a code fence (or an unclosed one to the end)
_BLOCK = re.compile(r"(?m)^[ \t]*>[^\n]*$")  # a block-quote line
INSIDE = "i:"  # the prefix of the words inside a quotation that is not passed on to be obeyed
# Obfuscations that flag whatever the model says: text spelled in invisible Unicode tag characters
# (emoji subdivision flags excepted, see normalize.py) is carried by no benign prompt in any data set,
# and grouped CV is better with the override than with the model weighing the signal.
DECISIVE_SIGNALS: frozenset[str] = frozenset({"tags"})


def _clip(form: str) -> str:
    if len(form) <= 2 * MAX_FORM_CHARS:
        return form
    return form[:MAX_FORM_CHARS] + " " + form[-MAX_FORM_CHARS:]


def quotation(form: str) -> tuple[str, str, tuple[str, ...]]:
    """``(outside, inside, framing)`` of one folded prompt: the text outside its quotations, the
    quoted text, and the ``q:`` features (without the prefix): whether it quotes, and how. Only the
    first ``MAX_QUOTE_SCAN`` characters are searched for quotations."""
    head, tail = form[:MAX_QUOTE_SCAN], form[MAX_QUOTE_SCAN:]
    spans: list[str] = []

    def take(match: re.Match[str]) -> str:
        spans.append(match.group(match.lastindex or 0))
        return " | "

    outside = _BLOCK.sub(take, _FENCE.sub(take, head))
    for _ in range(3):  # a quotation inside a quotation: the inner one first, then the outer one
        count = len(spans)
        outside = _QUOTED.sub(take, outside)
        if len(spans) == count:
            break
    if not spans:
        return form, "", ()
    out = ["quoted"]
    if _ASK.search(outside):
        out.append("ask")
    if _OBEY.search(outside):
        out.append("obey")
    return outside + tail, " | ".join(spans), tuple(out)


def _split(form: str) -> tuple[str, str, tuple[str, ...]]:
    """The first view's clipped text, the quoted text that also gets ``i:`` features (none when the
    prompt passes its quotation on to be obeyed), and the framing."""
    clipped = _clip(form)
    _, inside, quoting = quotation(clipped)
    return clipped, ("" if "obey" in quoting else inside), quoting


def _ngrams(text: str, prefix: str, out: set[str]) -> None:
    words = _WORD.findall(text)
    for index, word in enumerate(words):
        out.add(prefix + "w:" + word)
        if len(word) > STEM:
            out.add(prefix + "s:" + word[:STEM])
        if index:
            out.add(prefix + "b:" + words[index - 1] + " " + word)


def features(forms: Iterable[str], families: Iterable[str] = (), signals: Iterable[str] = ()) -> set[str]:
    """The binary features of one prompt, from its normalised views and the heuristics' evidence."""
    out: set[str] = set()
    forms = list(forms)
    for number, form in enumerate(forms):
        if number == 0:
            plain, inside, quoting = _split(form)
            out.update("q:" + q for q in quoting)
            _ngrams(plain, "", out)
            _ngrams(inside, INSIDE, out)
        else:
            _ngrams(_clip(form), "", out)
        if not form.isascii():
            for word in _FOREIGN.findall(form[:MAX_FORM_CHARS])[:MAX_FOREIGN_WORDS]:
                out.update("u:" + word[i : i + 2] for i in range(len(word) - 1))
    out.update("f:" + family for family in families)
    out.update("o:" + signal for signal in signals)
    return out


def _sigmoid(z: float) -> float:
    return 0.0 if z < -30.0 else 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True, slots=True)
class Classifier:
    """Feature weights and a bias; ``probability`` is the model's P(attack)."""

    weights: Mapping[str, float]
    bias: float
    threshold: float  # the default decision threshold chosen by grouped cross-validation
    meta: Mapping[str, object]
    # The weights split by kind, keyed without the prefix (word pairs by tuple), so scoring a prompt
    # looks its words up directly instead of building a string per feature.
    _by_kind: dict[str, dict[object, float]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, weight in self.weights.items():
            kind, key = name[0], name[2:]
            if name.startswith(INSIDE):  # i:w:, i:b:, i:s: are kept as kinds "iw", "ib", "is"
                kind, key = "i" + name[2], name[4:]
            self._by_kind.setdefault(kind, {})[tuple(key.split(" ")) if kind[-1] == "b" else key] = weight

    def margin(self, feats: Iterable[str]) -> float:
        get = self.weights.get
        return self.bias + sum(get(f, 0.0) for f in feats)

    def probability(self, feats: Iterable[str]) -> float:
        return _sigmoid(self.margin(feats))

    def score(self, forms: Iterable[str], families: Iterable[str] = (), signals: Iterable[str] = ()) -> float:
        """``probability(features(forms, families, signals))``, without building the feature strings."""
        words: set[str] = set()
        pairs: set[tuple[str, str]] = set()
        foreign: set[str] = set()
        inside_words: list[str] = []
        quoting: tuple[str, ...] = ()
        for number, form in enumerate(forms):
            if number == 0:
                plain, inside, quoting = _split(form)
                inside_words = _WORD.findall(inside)
            else:
                plain = _clip(form)
            found = _WORD.findall(plain)
            words.update(found)
            pairs.update(pairwise(found))
            if not form.isascii():
                for word in _FOREIGN.findall(form[:MAX_FORM_CHARS])[:MAX_FOREIGN_WORDS]:
                    foreign.update(word[i : i + 2] for i in range(len(word) - 1))
        kinds = self._by_kind
        empty: dict[object, float] = {}
        get_w, get_s = kinds.get("w", empty).get, kinds.get("s", empty).get
        get_b, get_u = kinds.get("b", empty).get, kinds.get("u", empty).get
        get_f, get_o = kinds.get("f", empty).get, kinds.get("o", empty).get
        get_q = kinds.get("q", empty).get
        z = self.bias + sum(get_w(w, 0.0) for w in words)
        z += sum(get_s(stem, 0.0) for stem in {w[:STEM] for w in words if len(w) > STEM})
        z += sum(get_b(pair, 0.0) for pair in pairs)
        z += sum(get_u(pair, 0.0) for pair in foreign)
        z += sum(get_f(f, 0.0) for f in families) + sum(get_o(o, 0.0) for o in signals)
        z += sum(get_q(q, 0.0) for q in quoting)
        if inside_words:
            get_iw, get_is, get_ib = kinds.get("iw", empty).get, kinds.get("is", empty).get, kinds.get("ib", empty).get
            z += sum(get_iw(w, 0.0) for w in set(inside_words))
            z += sum(get_is(stem, 0.0) for stem in {w[:STEM] for w in inside_words if len(w) > STEM})
            z += sum(get_ib(pair, 0.0) for pair in set(pairwise(inside_words)))
        return _sigmoid(z)

    def to_json(self) -> str:
        return json.dumps(
            {
                "meta": dict(self.meta),
                "bias": round(self.bias, 6),
                "threshold": round(self.threshold, 4),
                "weights": {k: round(v, 5) for k, v in sorted(self.weights.items())},
            },
            indent=0,
            sort_keys=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Classifier:
        data = json.loads(text)
        return cls(
            weights={str(k): float(v) for k, v in data["weights"].items()},
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            meta=dict(data.get("meta", {})),
        )


@lru_cache(maxsize=1)
def load_classifier() -> Classifier:
    """The shipped model (read once per process)."""
    text = resources.files(__package__).joinpath(WEIGHTS_FILE).read_text("utf-8")
    return Classifier.from_json(text)
