"""Embeddings from a pool: an OpenAI-compatible ``/v1/embeddings`` server instead of the gateway's CPU model.

The server here is real HTTP on loopback serving the real all-MiniLM-L6-v2 (the local model behind an
embeddings API, as a TEI or vLLM embedding pod would serve it), so semantic similarities are real:

- the client rotates over a pool's endpoints and moves past a dead one; every endpoint dead is an error;
- the config: ``kind: pool`` needs pool and model, the gateway's source must name a known pool, and the
  operator compiles an InferenceGateway's source (a missing pool compiles to the local model);
- through a gateway process: a semantic CachePolicy with ``embedding: {kind: pool}`` embeds on the pool and
  hits a paraphrase; intent routing with the gateway's ``embedding`` on a pool routes by intent; the
  server counts the calls, so the local model is shown not to be what answered.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import numpy as np
import pytest
from procs import Proc, ProcessFactory, free_port, pool
from pydantic import ValidationError
from tokenway_gateway.api import CachePolicySpec, InferenceGatewaySpec
from tokenway_gateway.api.cache import EmbeddingSource
from tokenway_gateway.api.snapshot import GatewayConfig
from tokenway_gateway.semantic import (
    EmbedderUnavailable,
    EmbeddingsPoolError,
    OpenAIEmbeddingsClient,
    embedder_for,
    get_embedder,
)
from tokenway_operator.compile import compile_snapshot
from tokenway_operator.unsupported import unsupported_fields

CHAT = "/v1/chat/completions"


class EmbeddingsServer:
    """``POST /v1/embeddings`` answered by the local model, on its own thread; counts inputs by model."""

    def __init__(self) -> None:
        self.inputs: list[str] = []
        self.models: list[str] = []
        embedder = get_embedder()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                owner.inputs.extend(texts)
                owner.models.append(body["model"])
                vectors = embedder.embed(texts)
                data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
                raw = json.dumps({"object": "list", "model": body["model"], "data": data}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def embeddings() -> Iterator[EmbeddingsServer]:
    server = EmbeddingsServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def sim(module_procs: ProcessFactory) -> Proc:
    return module_procs.simulator("m", "--itl-ms", "1", "--prefill-overhead-ms", "1")


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused


# ---- the client -------------------------------------------------------------------------------------


async def test_client_rotates_and_moves_past_a_dead_endpoint(embeddings: EmbeddingsServer) -> None:
    client = OpenAIEmbeddingsClient(None, "minilm")
    client.set_targets([(dead_url(), None), (embeddings.url, "sk-pool")])
    try:
        before = len(embeddings.inputs)
        vectors = [await client.aembed("How do I reset my password?") for _ in range(4)]
        # each call starts at the next endpoint: two of the four start at the dead one and move on
        assert client.calls == 6 and len(embeddings.inputs) - before == 4
        np.testing.assert_allclose(vectors[0], get_embedder().embed(["How do I reset my password?"])[0], atol=1e-4)
        assert client.dim == 384
        blocking = client.embed(["a", "b"])  # the blocking form (building matchers, off the loop)
        assert blocking.shape == (2, 384)
        client.set_targets([(dead_url(), None)])
        with pytest.raises(EmbeddingsPoolError):
            await client.aembed("nobody answers")
        with pytest.raises(EmbeddingsPoolError):
            client.embed(["nobody answers"])
        client.set_targets([])
        with pytest.raises(EmbeddingsPoolError, match="no endpoints"):
            await client.aembed("no endpoints at all")
    finally:
        await client.aclose()


def test_embedder_for_local_pool_and_missing_pool(embeddings: EmbeddingsServer) -> None:
    assert embedder_for(EmbeddingSource(), []) is get_embedder()
    source = EmbeddingSource(kind="pool", pool="emb", model="minilm")
    one = GatewayConfig.model_validate({"pools": [pool("emb", "minilm", embeddings.url)]}).pools
    two = GatewayConfig.model_validate({"pools": [pool("emb", "minilm", dead_url(), embeddings.url)]}).pools
    first, second = embedder_for(source, one), embedder_for(source, two)
    # one client per (pool, model) for the process: its endpoints follow the newest snapshot
    assert first is second and isinstance(first, OpenAIEmbeddingsClient)
    assert len(first._targets) == 2
    with pytest.raises(EmbedderUnavailable):
        embedder_for(EmbeddingSource(kind="pool", pool="gone", model="minilm"), one)


# ---- the config ---------------------------------------------------------------------------------------


def test_config_validation_and_operator_compile() -> None:
    with pytest.raises(ValidationError):
        EmbeddingSource(kind="pool", pool="emb")  # no model
    with pytest.raises(ValidationError):
        EmbeddingSource(model="bge-small")  # local runs the gateway's model: naming another is a mistake
    with pytest.raises(ValidationError, match="unknown pool"):
        GatewayConfig.model_validate({"embedding": {"kind": "pool", "pool": "emb", "model": "minilm"}})
    source = {"kind": "pool", "pool": "emb", "model": "minilm"}
    gateway = InferenceGatewaySpec.model_validate({"embedding": source})
    pools = {"emb": _pool_spec()}
    compiled = compile_snapshot(pools, {}, {}, {}, gateway)
    assert compiled.embedding == EmbeddingSource.model_validate(source)
    assert compile_snapshot({}, {}, {}, {}, gateway).embedding.kind == "local"  # the pool does not exist (yet)
    # a CachePolicy's embedding source is honoured now: not reported as unsupported
    assert unsupported_fields(CachePolicySpec.model_validate({"mode": "semantic", "embedding": source})) == []


def _pool_spec() -> Any:
    from tokenway_gateway.api import InferencePoolSpec

    return InferencePoolSpec.model_validate({"engine": "external", "models": [{"name": "minilm"}],
                                             "endpoints": [{"url": "http://emb.example:8000"}]})


# ---- through a gateway process -------------------------------------------------------------------------


def chat(url: str, content: str, model: str = "m") -> httpx.Response:
    return httpx.post(url + CHAT, json={"model": model, "temperature": 0, "max_tokens": 8,
                                        "messages": [{"role": "user", "content": content}]}, timeout=20)


def test_semantic_cache_embeds_on_the_pool(procs: ProcessFactory, sim: Proc, embeddings: EmbeddingsServer) -> None:
    config = {"version": "1", "pools": [pool("p-m", "m", sim.url), pool("emb", "minilm", embeddings.url)],
              "caches": [{"name": "sem", "mode": "semantic",
                          "embedding": {"kind": "pool", "pool": "emb", "model": "minilm"}}]}
    gw = procs.gateway(config)
    before = len(embeddings.inputs)
    stored = chat(gw.url, "How do I reset my password?")
    assert stored.status_code == 200 and stored.headers["x-tokenway-cache"] == "miss"
    hit = None
    for _ in range(50):  # the store embeds after the response: give it a moment
        hit = chat(gw.url, "How can I reset my password?")
        if hit.headers["x-tokenway-cache"] == "hit":
            break
    assert hit is not None and hit.headers["x-tokenway-cache"] == "hit"
    assert float(hit.headers["x-tokenway-cache-similarity"]) > 0.9
    assert hit.json()["choices"] == stored.json()["choices"]
    assert "How do I reset my password?" in embeddings.inputs[before:]
    assert set(embeddings.models[-2:]) == {"minilm"}


def test_intent_routing_embeds_on_the_gateway_pool(procs: ProcessFactory, sim: Proc,
                                                   embeddings: EmbeddingsServer) -> None:
    other = procs.simulator("m2", "--itl-ms", "1", "--prefill-overhead-ms", "1")
    examples = ["Write a Python function that sorts a list", "Fix this TypeError in my JavaScript code",
                "How do I undo my last git commit?"]
    config = {
        "version": "1",
        "embedding": {"kind": "pool", "pool": "emb", "model": "minilm"},
        "pools": [pool("p-m", "m", sim.url), pool("p-code", "m2", other.url), pool("emb", "minilm", embeddings.url)],
        "routes": [{"name": "auto", "intents": [{"name": "coding", "examples": examples}],
                    "rules": [{"name": "code", "match": {"models": ["m"], "intent": "coding"},
                               "backends": [{"pool": "p-code", "model": "m2"}]},
                              {"name": "rest", "match": {"models": ["m"]}, "backends": [{"pool": "p-m"}]}]}],
    }
    before = len(embeddings.inputs)
    gw = procs.gateway(config)
    assert set(examples) <= set(embeddings.inputs[before:])  # the matcher was built on the pool's vectors
    code = chat(gw.url, "My python script raises KeyError when I read the dict, how do I fix it?")
    assert code.status_code == 200, code.text
    assert "intent=coding" in code.headers["x-tokenway-route"]
    chatter = chat(gw.url, "What should I cook for dinner tonight?")
    assert chatter.status_code == 200 and "rule=rest" in chatter.headers["x-tokenway-route"]
    assert "What should I cook for dinner tonight?" in embeddings.inputs


def test_a_dead_embeddings_pool_never_keeps_the_gateway_from_serving(procs: ProcessFactory, sim: Proc) -> None:
    config = {
        "version": "1",
        "embedding": {"kind": "pool", "pool": "emb", "model": "minilm", "timeoutMs": 300},
        "pools": [pool("p-m", "m", sim.url), pool("emb", "minilm", dead_url())],
        "routes": [{"name": "auto", "intents": [{"name": "coding", "examples": ["Write a Python function"]}],
                    "rules": [{"name": "code", "match": {"intent": "coding"}, "backends": [{"pool": "p-m"}]},
                              {"name": "rest", "backends": [{"pool": "p-m"}]}]}],
        "caches": [{"name": "sem", "mode": "semantic", "embedding": {"kind": "pool", "pool": "emb",
                                                                      "model": "minilm", "timeoutMs": 300}}],
    }
    gw = procs.gateway(config)  # starts: the snapshot is not rejected because the pool cannot embed
    answer = chat(gw.url, "Write a Python function that adds two numbers")
    assert answer.status_code == 200 and "rule=rest" in answer.headers["x-tokenway-route"]
    assert answer.headers["x-tokenway-cache"] == "miss"  # the semantic lookup failed over to a miss
    metrics = httpx.get(gw.url + "/metrics", timeout=5).text
    assert 'tokenway_intent_errors_total{reason="unavailable"} 1.0' in metrics
