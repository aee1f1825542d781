"""Prompt guard: normalise obfuscations, then score prompts for injection and jailbreak attempts.

guard = PromptGuard(route.prompt_guard)            # once per config snapshot, off the event loop
verdict = guard.check_limits(messages=n, prompt_tokens=t)
if not verdict.flagged:
    verdict = guard.check(user_texts)              # synchronous; heuristic mode well under 1 ms
if verdict.flagged and guard.action == "block": ...  # 400 prompt_blocked
"""

from .guard import PASS, GuardVerdict, PromptGuard
from .normalize import Views, decode_payloads, fold, views

__all__ = ["PASS", "GuardVerdict", "PromptGuard", "Views", "decode_payloads", "fold", "views"]
