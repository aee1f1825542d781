"""The shared CPU embedder: real model files, real onnxruntime; the OpenAI client against loopback HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import numpy as np
import pytest
from aiohttp import web
from tokenway_gateway.semantic import AsyncEmbedder, Embedder, OpenAIEmbeddingsClient, get_embedder
from tokenway_gateway.semantic.embedder import length_groups


@pytest.fixture(scope="module")
def emb() -> Embedder:
    return get_embedder()


def test_singleton_is_shared_across_threads() -> None:
    seen: list[Embedder] = []
    threads = [threading.Thread(target=lambda: seen.append(get_embedder())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(e) for e in seen}) == 1
    assert seen[0] is get_embedder()


def test_shape_dtype_and_normalised(emb: Embedder) -> None:
    v = emb.embed(["How do I reset my password?", "", "x" * 5000])
    assert emb.dim == 384
    assert v.shape == (3, 384)
    assert v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert emb.embed([]).shape == (0, 384)
    with pytest.raises(TypeError):
        emb.embed("not a list")  # type: ignore[arg-type]


def test_paraphrase_closer_than_unrelated(emb: Embedder) -> None:
    a, para, other, other2 = emb.embed([
        "How do I reset my password?",
        "I forgot my password, how can I reset it?",
        "What is the capital of Australia?",
        "Write a Python function that reverses a linked list.",
    ])
    assert a @ para > 0.8
    assert a @ other < 0.3
    assert a @ other2 < 0.3
    assert a @ para > a @ other + 0.5


def test_batch_rows_in_order_and_equal_to_single(emb: Embedder) -> None:
    texts = ["short", "a much longer sentence about the refund policy for goods shipped abroad", "mid length text"]
    batch = emb.embed(texts)
    singles = np.vstack([emb.embed([t]) for t in texts])
    np.testing.assert_allclose(batch, singles, atol=1e-4)
    # Reversing the input reverses the rows.
    np.testing.assert_allclose(emb.embed(texts[::-1]), batch[::-1], atol=1e-4)


def test_length_groups_keep_short_texts_out_of_long_ones_padding() -> None:
    # an instruction of 12 tokens beside the 300-token text it came with: two passes, not one padded to 300
    assert length_groups([300, 12]) == [[1], [0]]
    # similar lengths share one pass, shortest first; every index appears once
    assert length_groups([20, 18, 25, 90, 100, 19]) == [[1, 5, 0, 2], [3, 4]]
    assert length_groups([]) == []


def test_mixed_lengths_batch_equals_singles(emb: Embedder) -> None:
    paragraph = ("The patient was started on 5 mg of amlodipine for hypertension and reviewed after four weeks; "
                 "blood pressure had fallen from 162/98 to 138/86 with mild ankle swelling. ") * 6
    texts = [paragraph, "Summarize this for me.", paragraph[:200], "tl;dr?"]
    np.testing.assert_allclose(emb.embed(texts), np.vstack([emb.embed([t]) for t in texts]), atol=1e-4)


async def test_submit_batches_and_delivers_on_loop_thread(emb: Embedder) -> None:
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    texts = [f"Question number {i}: how do I track order {1000 + i}?" for i in range(40)]
    expected = emb.embed(texts)
    results: dict[int, np.ndarray] = {}
    threads: set[int] = set()
    done = asyncio.Event()
    batches_before = emb.batches

    def make_cb(i: int):  # type: ignore[no-untyped-def]
        def cb(vec: np.ndarray | None, err: BaseException | None) -> None:
            assert err is None and vec is not None
            threads.add(threading.get_ident())
            results[i] = vec
            if len(results) == len(texts):
                done.set()
        return cb

    for i, t in enumerate(texts):
        emb.submit(t, loop, make_cb(i))
    await asyncio.wait_for(done.wait(), 30)
    assert threads == {loop_thread}
    for i in range(len(texts)):
        np.testing.assert_allclose(results[i], expected[i], atol=1e-4)
    # 40 texts queued at once went through in fewer batches than texts (dynamic batching).
    assert emb.batches - batches_before < len(texts)


async def test_aembed_concurrent(emb: Embedder) -> None:
    texts = ["refund for a broken phone", "book a flight to Lisbon", "python list comprehension"]
    got = await asyncio.gather(*(emb.aembed(t) for t in texts))
    np.testing.assert_allclose(np.vstack(got), emb.embed(texts), atol=1e-4)
    assert isinstance(emb, AsyncEmbedder)


async def test_submit_reports_errors_to_callback(emb: Embedder) -> None:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[BaseException | None] = loop.create_future()
    emb.submit(None, loop, lambda v, e: fut.set_result(e))  # type: ignore[arg-type]
    err = await asyncio.wait_for(fut, 10)
    assert isinstance(err, Exception)
    # The worker survives an error.
    v = await asyncio.wait_for(emb.aembed("still alive"), 10)
    assert v.shape == (384,)


@pytest.fixture
async def embeddings_server() -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    """A real OpenAI-compatible /v1/embeddings endpoint on loopback (vectors from a fixed table)."""
    seen: list[dict[str, object]] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append({"auth": request.headers.get("authorization"), **body})
        if body["input"] == ["boom"]:
            return web.json_response({"error": {"message": "bad", "type": "invalid_request_error"}}, status=400)
        data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), 3.0, 4.0]}
                for i, t in enumerate(body["input"])]
        # Out of order on purpose: the client must sort by index.
        return web.json_response({"object": "list", "data": data[::-1], "model": body["model"]})

    app = web.Application()
    app.router.add_post("/v1/embeddings", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_openai_embeddings_client(embeddings_server: tuple[str, list[dict[str, object]]]) -> None:
    url, seen = embeddings_server
    client = OpenAIEmbeddingsClient(url, "bge-small", api_key="sk-test")
    try:
        assert client.dim == 0
        v = await client.aembed("abcd")
        np.testing.assert_allclose(v, np.array([4, 3, 4], dtype=np.float32) / np.sqrt(41), atol=1e-6)
        assert client.dim == 3
        m = await client.aembed_many(["", "abcdef"])
        np.testing.assert_allclose(m[0], [0, 0.6, 0.8], atol=1e-6)
        assert seen[0] == {"auth": "Bearer sk-test", "model": "bge-small", "input": ["abcd"]}

        loop = asyncio.get_running_loop()
        fut: asyncio.Future[tuple[object, object, int]] = loop.create_future()
        client.submit("boom", loop, lambda v, e: fut.set_result((v, e, threading.get_ident())))
        vec, err, tid = await asyncio.wait_for(fut, 10)
        assert vec is None and err is not None and tid == threading.get_ident()
        assert isinstance(client, AsyncEmbedder)
    finally:
        await client.aclose()
