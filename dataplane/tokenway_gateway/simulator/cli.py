"""`tokenway sim`: run one simulated vLLM replica in this process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import ssl
from dataclasses import fields

from .config import SimulatorConfig
from .server import start_simulator

_D = SimulatorConfig()

DESCRIPTION = f"""\
Run an OpenAI-compatible server that behaves like ONE vLLM replica, without a GPU
(modelled on llm-d-inference-sim). It serves /v1/chat/completions, /v1/completions,
/v1/embeddings, /v1/models, /health, /metrics (vLLM metric names) and /sim/faults.

Latency model (every ms figure is multiplied by --time-scale; 0 never sleeps):
  TTFT   = queue wait + prefill_overhead + uncached_prompt_tokens * prefill_per_token
           (+ --stall-first-token-ms, a fault, in wall-clock ms)
  ITL(r) = itl * (1 + itl_growth * (r - 1)),  r = sequences running at that step
  defaults: prefill_overhead {_D.prefill_overhead_ms:g} ms, prefill_per_token {_D.prefill_ms_per_token:g} ms,
            itl {_D.itl_ms:g} ms, itl_growth {_D.itl_growth_per_seq:g} per extra running sequence
  e.g. a 1000-token uncached prompt, nothing queued: TTFT = {_D.prefill_overhead_ms:g} + 1000 * \
{_D.prefill_ms_per_token:g} = {_D.prefill_overhead_ms + 1000 * _D.prefill_ms_per_token:g} ms;
       33 running sequences: ITL = {_D.itl_ms:g} * (1 + {_D.itl_growth_per_seq:g} * 32) = \
{_D.itl_ms * (1 + 32 * _D.itl_growth_per_seq):.3g} ms.
  Fault delays (--stall-first-token-ms) are not scaled. With --time-scale 0 a sequence's
  tokens all come out in one step (the ITL histogram then gets no samples).

Continuous batching: at most --max-num-seqs sequences run, the rest wait FIFO; a sequence
is admitted when its prompt plus its whole output fits in the free KV blocks. With
--prefill-lanes N, at most N prefills are computed at once (prefill is compute-bound): a
running sequence's prefill waits for a lane, FIFO, and counts in vllm:num_requests_waiting.
Prefix cache: LRU of --kv-cache-blocks blocks of --block-size tokens keyed by chained block
hashes (as vLLM); cached tokens skip prefill. vllm:kv_cache_usage_perc = blocks held by
running sequences / --kv-cache-blocks.
Tokenizer: a token is a run of up to 4 word characters or one punctuation character
(~4 characters per token); chat adds 2 template tokens per message and 1 for the reply.
Output: deterministic pseudo-words from --seed and the prompt; max_tokens (or
max_completion_tokens) tokens with finish_reason "length" when set, else --max-tokens-default
tokens when > 0, else {_D.output_tokens_min}..{_D.output_tokens_max} tokens with finish_reason "stop".
Faults at runtime: POST /sim/faults with a JSON object of error_rate, error_status,
stall_first_token_ms, disconnect_rate, disconnect_after_tokens, startup_delay_s (GET shows them).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = _D
    net = parser.add_argument_group("server")
    net.add_argument("--host", default="0.0.0.0", help="listen address (default %(default)s)")
    net.add_argument("--port", type=int, default=8000, help="listen port (default %(default)s)")
    net.add_argument("--model", default=d.model, help="model name (default %(default)s)")
    net.add_argument("--served-model-name", nargs="+", default=[], dest="served_model_names", metavar="NAME",
                     help="extra names the model answers to")
    net.add_argument("--seed", type=int, default=d.seed, help="seed of every pseudo-random choice")
    net.add_argument("--embedding-dim", type=int, default=d.embedding_dim, help="embedding size")
    net.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    net.add_argument("--access-log", action="store_true", help="log every request")
    net.add_argument("--api-key", default=None, help="as vLLM: require `Authorization: Bearer KEY` on /v1 routes")
    net.add_argument("--ssl-certfile", default=None, help="as vLLM: serve HTTPS with this certificate (PEM)")
    net.add_argument("--ssl-keyfile", default=None, help="as vLLM: the certificate's private key (PEM)")

    lat = parser.add_argument_group("latency model")
    lat.add_argument("--time-scale", type=float, default=d.time_scale,
                     help="multiplies every latency; 0 answers at once (default %(default)s)")
    lat.add_argument("--prefill-overhead-ms", type=float, default=d.prefill_overhead_ms,
                     help="fixed part of the prefill (default %(default)s)")
    lat.add_argument("--prefill-ms-per-token", type=float, default=d.prefill_ms_per_token,
                     help="prefill time per uncached prompt token (default %(default)s)")
    lat.add_argument("--itl-ms", type=float, default=d.itl_ms,
                     help="inter-token latency with one running sequence (default %(default)s)")
    lat.add_argument("--itl-growth-per-seq", type=float, default=d.itl_growth_per_seq,
                     help="relative ITL increase per extra running sequence (default %(default)s)")
    lat.add_argument("--max-tokens-default", type=int, default=d.max_tokens_default,
                     help="output tokens when a request sets no max_tokens; 0 = deterministic "
                          "length within --output-tokens-min/max (default %(default)s)")
    lat.add_argument("--output-tokens-min", type=int, default=d.output_tokens_min)
    lat.add_argument("--output-tokens-max", type=int, default=d.output_tokens_max)
    lat.add_argument("--max-model-len", type=int, default=d.max_model_len,
                     help="prompt + output limit per sequence (default %(default)s)")

    cap = parser.add_argument_group("batching and KV cache")
    cap.add_argument("--max-num-seqs", type=int, default=d.max_num_seqs,
                     help="running sequences at most (default %(default)s)")
    cap.add_argument("--prefill-lanes", type=int, default=d.prefill_lanes,
                     help="prefills computed at once; others wait for a lane, FIFO, and count as waiting "
                          "(0 = no limit, the default)")
    cap.add_argument("--block-size", type=int, default=d.block_size, help="tokens per KV block (default %(default)s)")
    cap.add_argument("--kv-cache-blocks", type=int, default=d.kv_cache_blocks,
                     help="KV blocks of the replica (default %(default)s)")
    cap.add_argument("--no-prefix-caching", "--no-enable-prefix-caching", action="store_false",
                     dest="enable_prefix_caching", help="disable automatic prefix caching")
    cap.add_argument("--enable-prefix-caching", action="store_true", dest="enable_prefix_caching",
                     help="enable automatic prefix caching (the default; vLLM's flag)")

    # The operator passes vLLM's engine flags to whatever image a pool runs, so the simulator
    # can stand in for vLLM in a cluster: it accepts them and models none of them.
    vllm = parser.add_argument_group("vLLM flags accepted for compatibility (no effect)")
    for flag in ("--quantization", "--speculative-config", "--tensor-parallel-size", "--gpu-memory-utilization",
                 "--dtype", "--max-num-batched-tokens"):
        vllm.add_argument(flag, dest=f"ignored_{flag[2:].replace('-', '_')}", default=None, help=argparse.SUPPRESS)

    flt = parser.add_argument_group("fault injection (also POST /sim/faults at runtime)")
    flt.add_argument("--error-rate", type=float, default=d.error_rate,
                     help="fraction of requests answered with --error-status")
    flt.add_argument("--error-status", type=int, default=d.error_status,
                     help="status of injected errors, e.g. 500 or 503 (default %(default)s)")
    flt.add_argument("--stall-first-token-ms", type=float, default=d.stall_first_token_ms,
                     help="extra wall-clock delay before the first token")
    flt.add_argument("--disconnect-rate", type=float, default=d.disconnect_rate,
                     help="fraction of requests whose connection is aborted mid-stream")
    flt.add_argument("--disconnect-after-tokens", type=int, default=d.disconnect_after_tokens,
                     help="tokens sent before such an abort (default %(default)s)")
    flt.add_argument("--startup-delay-s", type=float, default=d.startup_delay_s,
                     help="seconds during which /health and requests answer 503")


def ssl_from_args(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.ssl_certfile:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.ssl_certfile, args.ssl_keyfile)
    return context


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    return SimulatorConfig(**{f.name: getattr(args, f.name) for f in fields(SimulatorConfig)})


async def _serve(config: SimulatorConfig, host: str, port: int, access_log: bool,
                 ssl_context: ssl.SSLContext | None = None) -> None:
    handle = await start_simulator(config, host, port, access_log=access_log, shutdown_timeout=5.0,
                                   ssl_context=ssl_context)
    logging.getLogger(__name__).info("simulating model %s on %s (names: %s)", config.model, handle.url,
                                     ", ".join(config.model_names))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await handle.stop()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
    except ValueError as exc:
        logging.getLogger(__name__).error("invalid configuration: %s", exc)
        return 2
    loop_factory = None
    try:
        import uvloop  # the simulator must not be the bottleneck of a benchmark

        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(config, args.host, args.port, args.access_log, ssl_from_args(args)))
    return 0
