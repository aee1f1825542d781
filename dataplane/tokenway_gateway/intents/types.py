"""What the intent matchers return and what they need from an embedder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


class BlockingEmbedder(Protocol):
    """What a matcher needs to embed the examples: ``embed(texts) -> (n, dim)`` L2-normalised rows."""

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True)
class IntentMatch:
    """The matched intent.

    ``score``: cosine similarity of the prompt to the intent (the mean of its top-k nearest
    examples blended with its centroid; what ``Intent.threshold`` is compared with).
    ``probability``: the classifier's probability for the intent (1.0 from matchers without one).
    """

    name: str
    score: float
    probability: float = 1.0
