"""Tokenway gateway: an LLM-aware OpenAI-compatible proxy, and the simulator it is measured on."""

__version__ = "0.1.0"
