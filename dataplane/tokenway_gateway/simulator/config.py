"""Every knob of one simulated vLLM replica, in one dataclass.

The CLI flags map one to one onto these fields (``--prefill-ms-per-token`` ->
``prefill_ms_per_token``), so `tokenway up`, the tests and the CLI share one
definition of the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FaultSettings:
    """Fault injection, also changeable at runtime with POST /sim/faults. Fault delays are
    wall-clock milliseconds, not scaled by time_scale, so they stay visible with time_scale 0."""

    error_rate: float = 0.0
    error_status: int = 500
    stall_first_token_ms: float = 0.0
    disconnect_rate: float = 0.0
    disconnect_after_tokens: int = 1
    startup_delay_s: float = 0.0


@dataclass
class SimulatorConfig(FaultSettings):
    """Configuration of one simulated replica (latency model, capacity, and the faults it inherits)."""

    # Identity: `model` is the name; `served_model_names` are extra aliases it also answers to.
    model: str = "tokenway-sim"
    served_model_names: list[str] = field(default_factory=list)
    seed: int = 0

    # Latency model (milliseconds, multiplied by time_scale; 0 = never sleep).
    time_scale: float = 1.0
    prefill_overhead_ms: float = 20.0
    prefill_ms_per_token: float = 0.05
    itl_ms: float = 8.0
    itl_growth_per_seq: float = 0.03

    # Output length: max_tokens when the request sets it, else max_tokens_default when > 0,
    # else a deterministic length in [output_tokens_min, output_tokens_max] from seed and prompt.
    max_tokens_default: int = 0
    output_tokens_min: int = 16
    output_tokens_max: int = 128
    max_model_len: int = 32768

    # Continuous batching and KV cache.
    max_num_seqs: int = 256
    # Prefills that run at once (0: no limit). A GPU's prefill is compute-bound: with N lanes, a
    # sequence's prefill waits for a free lane (FIFO) while holding its slot, as under chunked prefill.
    prefill_lanes: int = 0
    block_size: int = 16
    kv_cache_blocks: int = 8192
    enable_prefix_caching: bool = True

    embedding_dim: int = 768

    # As vLLM's --api-key: /v1 requests must carry `Authorization: Bearer <api_key>`.
    api_key: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if not self.model:
            problems.append("model must not be empty")
        if self.time_scale < 0:
            problems.append("time_scale must be >= 0")
        for name in ("prefill_overhead_ms", "prefill_ms_per_token", "itl_ms", "itl_growth_per_seq",
                     "stall_first_token_ms", "startup_delay_s"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        for name in ("max_num_seqs", "block_size", "kv_cache_blocks", "embedding_dim", "max_model_len",
                     "output_tokens_min"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        if self.output_tokens_max < self.output_tokens_min:
            problems.append("output_tokens_max must be >= output_tokens_min")
        if self.prefill_lanes < 0:
            problems.append("prefill_lanes must be >= 0")
        if self.max_tokens_default < 0 or self.disconnect_after_tokens < 0:
            problems.append("max_tokens_default and disconnect_after_tokens must be >= 0")
        for name in ("error_rate", "disconnect_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be within [0, 1]")
        if not 400 <= self.error_status <= 599:
            problems.append("error_status must be an HTTP error status (400..599)")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def model_names(self) -> list[str]:
        """The names requests may use, the primary name first, without duplicates."""
        return list(dict.fromkeys([self.model, *self.served_model_names]))
