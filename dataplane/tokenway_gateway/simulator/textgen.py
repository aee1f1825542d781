"""Deterministic pseudo-words for the generated text.

Output token ids are drawn from a fixed 512-word vocabulary by a PRNG seeded
with (simulator seed, prompt digest), so the same prompt on the same seed
always gives the same text and length: benchmarks are repeatable. Each token
is one word with a leading space; its JSON form is precomputed so streaming
never serialises per token.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence

import orjson

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "st")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou")
_CODAS = ("", "n", "r", "s")

VOCAB: tuple[str, ...] = tuple(
    f" {a}{v}{c}" for a in _ONSETS for v in _VOWELS for c in _CODAS
)
VOCAB_JSON: tuple[bytes, ...] = tuple(orjson.dumps(word) for word in VOCAB)
_VOCAB_IDS = range(len(VOCAB))


def prompt_digest(tokens: Sequence[str]) -> int:
    """A stable 32-bit digest of a prompt (Python's hash() is salted per process)."""
    return zlib.crc32("\x1f".join(tokens).encode())


def output_rng(seed: int, digest: int, index: int) -> random.Random:
    """The PRNG of one choice: `index` separates the n choices of one prompt."""
    return random.Random((seed << 40) ^ (digest << 8) ^ index)


def default_length(rng: random.Random, low: int, high: int) -> int:
    return rng.randint(low, high)


def token_ids(rng: random.Random, count: int) -> list[int]:
    return rng.choices(_VOCAB_IDS, k=count)


def detokenize(ids: Sequence[int]) -> str:
    vocab = VOCAB
    return "".join([vocab[i] for i in ids])
