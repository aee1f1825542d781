"""A vLLM-like simulated inference server: one replica's latency, batching, KV cache and metrics.

Programmatic use (tests, `tokenway up`)::

    handle = await start_simulator(SimulatorConfig(model="m1", time_scale=0), port=0)
    ... handle.url ...
    await handle.stop()

The CLI (`tokenway sim`) runs the same server in its own process.
"""

from .config import SimulatorConfig
from .server import Simulator, SimulatorHandle, start_simulator

__all__ = ["Simulator", "SimulatorConfig", "SimulatorHandle", "start_simulator"]
