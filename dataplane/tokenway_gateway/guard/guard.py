"""PromptGuard: one object per route config; ``check`` is synchronous and allocation-light."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..api.route import PromptGuard as PromptGuardConfig
from .classifier import DECISIVE_SIGNALS, Classifier, load_classifier
from .exemplars import ATTACK_EXEMPLARS, BENIGN_EXEMPLARS
from .normalize import MAX_SCAN_CHARS, Views, clip, views
from .rules import LEXICON, OBFUSCATION_WEIGHTS, RULES

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..semantic import Embedder, OpenAIEmbeddingsClient

MAX_TOTAL_SCAN_CHARS = 2 * MAX_SCAN_CHARS  # across all texts of one request, newest first
CHARS_PER_TOKEN = 4  # the estimate used when the caller has no token count
_WORD = re.compile(r"[a-z]+")
# Every rule matches within this many characters of one of its words; a long text is searched
# only in windows around those words, so its cost grows with its suspicious words, not its length.
WINDOW = 320
VERDICT_CACHE_ENTRIES = 4096  # what the gateway's guard stage asks a guard to remember (oldest out first)
_ANCHORS: frozenset[str] = frozenset().union(*(rule.words for rule in RULES if rule.view == "text"))
# Which rules a text can match at all: every compact-view rule, plus the text-view rules of the
# anchor words it holds. A prompt with no anchor word checks a handful of rules, not all of them.
_COMPACT_RULES: frozenset[int] = frozenset(i for i, rule in enumerate(RULES) if rule.view == "compact")
_RULES_BY_WORD: dict[str, tuple[int, ...]] = {
    word: tuple(i for i, rule in enumerate(RULES) if rule.view == "text" and word in rule.words) for word in _ANCHORS
}


def _anchor_positions(form: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for match in _WORD.finditer(form):
        word = match.group()
        if word in _ANCHORS:
            found.setdefault(word, []).append(match.start())
    return found


def _windows(starts: list[int], size: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start in sorted(starts):
        low, high = max(0, start - WINDOW), start + WINDOW
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], min(size, high))
        else:
            merged.append((low, min(size, high)))
    return merged


def _search(pattern: re.Pattern[str], words: frozenset[str], form: str, found: dict[str, list[int]]) -> bool:
    if len(form) <= 2 * WINDOW:
        return pattern.search(form) is not None
    starts = [p for word in words for p in found.get(word, ())]
    return any(pattern.search(form, low, high) is not None for low, high in _windows(starts, len(form)))


def _search_compact(pattern: re.Pattern[str], words: frozenset[str], compact: str) -> bool:
    if len(compact) <= 2 * WINDOW:
        return any(w in compact for w in words) and pattern.search(compact) is not None
    starts: list[int] = []
    for word in words:
        at = compact.find(word)
        while at != -1 and len(starts) < 64:
            starts.append(at)
            at = compact.find(word, at + 1)
    return any(pattern.search(compact, low, high) is not None for low, high in _windows(starts, len(compact)))


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    """``score`` in [0, 1]; ``flagged`` when it reaches the route's threshold; ``reasons`` name the evidence."""

    score: float
    flagged: bool
    reasons: tuple[str, ...]


PASS = GuardVerdict(0.0, False, ())


class PromptGuard:
    """Scores prompts for injection and jailbreak attempts.

    Build one per config snapshot (embedding mode embeds the attack exemplars here, so build it
    off the event loop). ``check`` runs the heuristics (well under a millisecond for a chat
    prompt) and, given the prompt's embedding in embedding mode, the exemplar comparison.
    """

    def __init__(
        self,
        config: PromptGuardConfig | None = None,
        *,
        embedder: Embedder | OpenAIEmbeddingsClient | None = None,
        attack_exemplars: Sequence[str] = ATTACK_EXEMPLARS,
        benign_exemplars: Sequence[str] = BENIGN_EXEMPLARS,
        verdict_cache: int = 0,
        classifier: Classifier | None = None,
    ) -> None:
        self.config = config if config is not None else PromptGuardConfig(enabled=True)
        self._extra = tuple(re.compile(p, re.I | re.S) for p in self.config.extra_patterns)
        # Verdicts of the last `verdict_cache` texts (0: none): a chat re-sends its earlier turns with
        # every request, and a text's verdict never changes for one guard.
        self._verdicts: dict[str, GuardVerdict] = {}
        self._cache_size = verdict_cache
        self._classifier: Classifier | None = None
        self._classifier_threshold = 1.0
        if self.config.mode == "classifier":
            self._classifier = classifier if classifier is not None else load_classifier()
            threshold = self.config.classifier_threshold
            self._classifier_threshold = self._classifier.threshold if threshold is None else threshold
        self._attack_vectors: NDArray[np.float32] | None = None
        self._benign_vectors: NDArray[np.float32] | None = None
        if self.config.mode == "embedding" and self.active:
            if embedder is None:
                from ..semantic import get_embedder

                embedder = get_embedder()
            self._attack_vectors = embedder.embed(list(attack_exemplars))
            self._benign_vectors = embedder.embed(list(benign_exemplars)) if benign_exemplars else None

    @property
    def active(self) -> bool:
        """Whether the route screens prompts at all (enabled and action not off)."""
        return self.config.enabled and self.config.action != "off"

    @property
    def action(self) -> str:
        """block | flag | off: what the pipeline does with a flagged verdict."""
        return self.config.action if self.config.enabled else "off"

    @property
    def needs_embedding(self) -> bool:
        """Embedding mode: pass the prompt's embedding to ``check``."""
        return self._attack_vectors is not None

    def check_limits(self, *, messages: int, prompt_tokens: int | None = None, prompt_chars: int = 0) -> GuardVerdict:
        """The route's limits on message count and prompt tokens (estimated from characters if not given)."""
        if not self.active:
            return PASS
        reasons: list[str] = []
        if self.config.max_messages is not None and messages > self.config.max_messages:
            reasons.append("limit:max-messages")
        if self.config.max_prompt_tokens is not None:
            tokens = prompt_tokens if prompt_tokens is not None else -(-prompt_chars // CHARS_PER_TOKEN)
            if tokens > self.config.max_prompt_tokens:
                reasons.append("limit:max-prompt-tokens")
        return GuardVerdict(1.0, True, tuple(reasons)) if reasons else PASS

    def check(self, texts: Sequence[str], embedding: NDArray[np.float32] | None = None) -> GuardVerdict:
        """Score the texts (the request's user and tool messages); the highest-scoring text decides."""
        if not self.active:
            return PASS
        best = PASS
        budget = MAX_TOTAL_SCAN_CHARS
        for text in reversed(texts):  # newest first: an injection is most often in the latest turn
            if budget <= 0:
                break
            text = clip(text, min(budget, MAX_SCAN_CHARS))
            budget -= len(text)
            verdict = self._verdicts.get(text)
            if verdict is None:
                verdict = self.score_text(text)
                if self._cache_size:
                    if len(self._verdicts) >= self._cache_size:
                        del self._verdicts[next(iter(self._verdicts))]  # the oldest
                    self._verdicts[text] = verdict
            if verdict.score > best.score:
                best = verdict
        if embedding is not None and self._attack_vectors is not None:
            similarity = self.exemplar_similarity(embedding)
            if similarity >= self.config.embedding_threshold:
                score = max(best.score, similarity)
                return GuardVerdict(score, True, (*best.reasons, "attack-exemplar"))
        return best

    def score_text(self, text: str) -> GuardVerdict:
        """Score of one text: the heuristics, and in classifier mode the trained model."""
        scanned, families = self.evidence(text)
        if self._classifier is not None:
            return self._classify(scanned, families)
        if not families and not scanned.signals:
            return PASS
        score = self._heuristic_score(scanned, families)
        reasons = tuple(sorted(families)) + tuple(f"obfuscation:{s}" for s in scanned.signals)
        return GuardVerdict(score, score >= self.config.threshold, reasons)

    @staticmethod
    def _heuristic_score(scanned: Views, families: dict[str, float]) -> float:
        remaining = 1.0
        for weight in families.values():
            remaining *= 1.0 - weight
        obfuscation = max((OBFUSCATION_WEIGHTS.get(s, 0.0) for s in scanned.signals), default=0.0)
        remaining *= 1.0 - obfuscation
        return round(1.0 - remaining, 4)

    def _classify(self, scanned: Views, families: dict[str, float]) -> GuardVerdict:
        assert self._classifier is not None
        score = round(self._classifier.score(scanned.text, families, scanned.signals), 4)
        # an extra pattern is the operator's own rule, and a decisive obfuscation (an instruction hidden
        # in tag characters) no benign text carries: either flags whatever the model says
        if "extra-pattern" in families or not DECISIVE_SIGNALS.isdisjoint(scanned.signals):
            score = 1.0
        flagged = score >= self._classifier_threshold
        reasons = tuple(sorted(families)) + tuple(f"obfuscation:{s}" for s in scanned.signals)
        if flagged:
            reasons = (*reasons, "classifier")
        return GuardVerdict(score, flagged, reasons)

    def evidence(self, text: str) -> tuple[Views, dict[str, float]]:
        """The normalised views of one text and the rule families that fired (family -> weight)."""
        scanned = views(text, LEXICON)
        families: dict[str, float] = {}
        forms = scanned.text
        positions = [_anchor_positions(form) for form in forms]
        words = set().union(*positions)
        compact = scanned.compact
        candidates = set(_COMPACT_RULES)
        for word in words:
            candidates.update(_RULES_BY_WORD[word])
        for index in sorted(candidates):  # in RULES order, as if every rule were tried
            rule = RULES[index]
            if families.get(rule.family, 0.0) >= rule.weight:
                continue
            if rule.view == "compact":
                hit = _search_compact(rule.pattern, rule.words, compact)
            else:
                hit = any(
                    _search(rule.pattern, rule.words, form, found) for form, found in zip(forms, positions, strict=True)
                )
            if hit:
                families[rule.family] = rule.weight
        for pattern in self._extra:
            if any(pattern.search(form) for form in scanned.text) or pattern.search(text):
                families["extra-pattern"] = 1.0
                break
        return scanned, families

    def exemplar_similarity(self, embedding: NDArray[np.float32]) -> float:
        """Cosine similarity to the nearest attack exemplar, less how much nearer the nearest benign one is."""
        assert self._attack_vectors is not None
        vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
        attack = float(np.max(self._attack_vectors @ vector))
        if self._benign_vectors is not None:
            benign = float(np.max(self._benign_vectors @ vector))
            if benign > attack:
                return attack - (benign - attack)
        return attack
