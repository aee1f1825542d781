"""Cache keys and the verifier's false-hit families."""

from __future__ import annotations

import pytest
from tokenway_gateway.cache import analyze, cache_control, contradiction, exact_key, is_sampled, semantic_key


def chat(text: str, *, system: str = "You are helpful.", prior: list[dict[str, str]] | None = None,
         **kw: object) -> dict[str, object]:
    msgs = [{"role": "system", "content": system}, *(prior or []), {"role": "user", "content": text}]
    return {"model": "llama", "messages": msgs, "temperature": 0, **kw}


def test_exact_key_ignores_transport_fields_only() -> None:
    base = chat("hi")
    assert exact_key(base) == exact_key({**base, "stream": True, "stream_options": {"include_usage": True},
                                         "user": "u1", "metadata": {"a": 1}})
    # Key order does not matter.
    assert exact_key(dict(reversed(list(base.items())))) == exact_key(base)
    # Everything that changes the answer changes the key, unknown fields included.
    for change in ({"model": "other"}, {"temperature": 0.0001}, {"max_tokens": 5}, {"seed": 1},
                   {"tools": [{"type": "function", "function": {"name": "f"}}]},
                   {"response_format": {"type": "json_object"}},
                   {"some_new_param": 1}, {"messages": chat("hi!")["messages"]}):
        assert exact_key({**base, **change}) != exact_key(base), change


def test_sampled_and_cache_control() -> None:
    assert is_sampled({"model": "m"})  # unset: the server default is 1.0
    assert is_sampled({"temperature": 0.7})
    assert not is_sampled({"temperature": 0})
    assert is_sampled({"temperature": "bad"})
    assert cache_control(None) == (False, False)
    assert cache_control("no-cache") == (True, False)
    assert cache_control(b"No-Store, max-age=0") == (False, True)
    assert cache_control("no-cache, no-store") == (True, True)


def test_semantic_key_is_last_user_turn_plus_context_digest() -> None:
    a = semantic_key(chat("  How do I reset my password? "))
    assert a is not None and a.text == "How do I reset my password?"
    b = semantic_key(chat("I forgot my password", temperature=0.5, seed=3))
    assert b is not None and b.context == a.context  # sampling params do not split the index
    other_system = semantic_key(chat("How do I reset my password?", system="You work for Zenith Telecom."))
    other_turns = semantic_key(chat("How do I reset my password?", prior=[
        {"role": "user", "content": "I use the mobile app"}, {"role": "assistant", "content": "OK"}]))
    other_tools = semantic_key(chat("How do I reset my password?", tools=[{"type": "function"}]))
    for k in (other_system, other_turns, other_tools):
        assert k is not None and k.context != a.context
    assert semantic_key(chat("How do I reset my password?", stream=True)) == a


def test_semantic_key_absent_when_no_user_text() -> None:
    tool_last = {"model": "m", "messages": [{"role": "user", "content": "x"},
                                            {"role": "tool", "content": "42", "tool_call_id": "1"}]}
    assert semantic_key(tool_last) is None
    image = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": "data:,"}}]}]}
    assert semantic_key(image) is None
    parts = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                                     {"type": "text", "text": "b"}]}]}
    assert semantic_key(parts) is not None and semantic_key(parts).text == "a\nb"  # type: ignore[union-attr]
    assert semantic_key({"model": "m", "prompt": "Once upon"}) is not None
    assert semantic_key({"model": "m", "messages": []}) is None


REJECT = [
    ("negation", "Why is this test passing?", "Why is this test not passing?"),
    ("negation", "Can I log in with my email?", "Can I log in without my email?"),
    ("antonym", "Is the port open on the server?", "Is the port closed on the server?"),
    ("antonym", "How do I install numpy with pip?", "How do I uninstall numpy with pip?"),
    ("antonym", "Flights to Rome in March", "Flights to Rome in April"),
    ("number", "Can I get a refund after 30 days?", "Can I get a refund after 60 days?"),
    ("number", "Set a timeout of 30 seconds", "Set a timeout of 30 milliseconds"),
    ("number", "Hotels under $100", "Hotels under 100 euros"),
    ("number", "Plan a three-day trip to Paris", "Plan a 5-day trip to Paris"),
    ("quoted", 'Why does the error "Invalid token" appear?', 'Why does the error "Session expired" appear?'),
    ("entity", "How do I connect my account to Slack?", "How do I connect my account to Microsoft Teams?"),
    ("entity", "Why does `fetchUser()` return undefined?", "Why does fetchOrders() return undefined?"),
    ("entity", "What does the config_timeout setting do?", "What does the read_timeout setting do?"),
    ("direction", "Find flights from London to Paris.", "Find flights from Paris to London."),
    ("direction", "How do I convert JSON to YAML?", "How do I convert YAML to JSON?"),
    ("direction", "Is Rust faster than Go?", "Is Go faster than Rust?"),
    ("direction", "Exchange the blue shirt for the red shirt.", "Exchange the red shirt for the blue shirt."),
    ("form", "Give me the result as JSON.", "Give me the result as a table."),
    ("form", "Explain recursion in one sentence.", "Explain recursion in detail."),
    ("form", "List three advantages of TypeScript.", "Write an essay on the advantages of TypeScript."),
    ("substitution", "How do I change my shipping address?", "How do I change my billing address?"),
    ("substitution", "Can I bring my dog on a train in Germany?", "Can I bring my bicycle on a train in Germany?"),
]


@pytest.mark.parametrize(("rule", "a", "b"), REJECT, ids=[f"{r}:{a[:30]}" for r, a, _ in REJECT])
def test_verifier_rejects_each_family(rule: str, a: str, b: str) -> None:
    fa, fb = analyze(a), analyze(b)
    assert contradiction(fa, fb) is not None
    assert contradiction(fb, fa) is not None
    # Only rules of the expected kind or earlier in the chain fire; record which one for the reader.
    assert contradiction(fa, fb) in {"negation", "antonym", "number", "quoted", "entity", "direction", "form",
                                     "substitution"}


ACCEPT = [
    ("How do I reset my password?", "I forgot my password. How can I reset it?"),
    ("What's the difference between a process and a thread?", "Explain how a thread differs from a process."),
    ("How do I center a div horizontally and vertically?", "How do I center a div vertically and horizontally?"),
    ("Should I rent or buy a house?", "Is it better to buy a house or rent?"),
    ("How do I buy Apple stock?", "How can I purchase Apple stock?"),
    ("Convert 500 USD to EUR.", "convert 500 usd to eur"),
]


@pytest.mark.parametrize(("a", "b"), ACCEPT)
def test_verifier_accepts_paraphrases(a: str, b: str) -> None:
    assert contradiction(analyze(a), analyze(b)) is None
    assert contradiction(analyze(b), analyze(a)) is None
