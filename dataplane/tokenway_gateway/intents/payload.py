"""Split a prompt into the instruction and the payload it carries ("summarize this: <three paragraphs>").

A mean-pooled sentence embedding follows whatever most of the tokens are about. In a prompt that
pastes text to work on, that is the pasted text: "summarize this: <a paragraph about a clinical
trial>" embeds near health questions, not near summarization requests. :func:`split_payload` finds
the short instruction around such a payload so that it can be embedded on its own
(``IntentMatcher`` mixes the two embeddings, ``matcher.py``).

Pure string rules, a few microseconds; a prompt shorter than :data:`MIN_PROMPT_CHARS` or without
one of these shapes has no payload (and costs no second embedding):

* fenced code blocks (```...```) are payload; the text outside them is the instruction;
* a first line (or paragraph) of at most :data:`MAX_INSTRUCTION_CHARS` followed by more lines
  ("Summarize this in one sentence:\\n\\n<text>", "tldr pls\\n\\n<text>");
* an inline lead-in up to the first ``:``, ``?``, ``.`` or ``!`` followed by a space within the
  first :data:`MAX_INSTRUCTION_CHARS` ("Give me the gist of this abstract: We study ...",
  "Summarize the key findings of this study. Researchers followed ...");
* a short last paragraph, or a last line that asks a question, after the payload ("<pasted
  text>\\n\\nTL;DR?", a stack trace and "why does this happen?"), or a short closing question on
  the payload's own line.

Head and tail both count when both are there. The payload (what remains) must be at least
:data:`MIN_PAYLOAD_CHARS` long and longer than the instruction, or the prompt counts as one piece.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_PROMPT_CHARS = 140  # shorter prompts are embedded whole, as one piece
MIN_PAYLOAD_CHARS = 80
MAX_INSTRUCTION_CHARS = 200
MAX_TAIL_QUESTION_CHARS = 80  # a closing question on the payload's own line

_FENCE = re.compile(r"```[^\n]*\n?(.*?)(?:```|\Z)", re.S)
# The end of a lead-in: a colon, or a sentence end, followed by whitespace (or a quote mark).
_NOT_A_SENTENCE_END = r"(?<![A-Z])(?<!e\.g)(?<!i\.e)(?<!etc)(?<!vs)(?<!Dr)(?<!Mr)(?<!Ms)(?<!St)"  # "U.S.", "e.g."
_LEAD_END = re.compile(rf"(?:[:?!]|{_NOT_A_SENTENCE_END}\.)(?=\s|['\"“«])")
_SENTENCE_END = re.compile(r"[.?!]['\"”»)]?\s+")


@dataclass(frozen=True, slots=True)
class PromptParts:
    """A prompt that carries a payload: the ``instruction`` around it and the ``payload`` itself."""

    instruction: str
    payload: str


def split_payload(text: str) -> PromptParts | None:
    """The instruction and the payload of ``text``, or None when it carries no payload."""
    s = text.strip()
    if len(s) < MIN_PROMPT_CHARS:
        return None
    code: list[str] = []
    if "```" in s:
        code = [m.group(1).strip() for m in _FENCE.finditer(s)]
        s = _FENCE.sub("\n\n", s).strip()
        if not s:  # code only: nothing but the payload to go by
            return None
        if len(s) <= MAX_INSTRUCTION_CHARS:
            return _parts(s, "\n".join(code))
    head, body, tail = _head_body_tail(s)
    instruction = " ".join(part for part in (head, tail) if part)
    payload = "\n".join(part for part in (*code, body) if part)
    return _parts(instruction, payload)


def _parts(instruction: str, payload: str) -> PromptParts | None:
    instruction, payload = instruction.strip(), payload.strip()
    if not instruction or len(payload) < MIN_PAYLOAD_CHARS or len(payload) <= len(instruction):
        return None
    return PromptParts(" ".join(instruction.split()), payload)


def _fits(part: str) -> bool:
    return 0 < len(part) <= MAX_INSTRUCTION_CHARS


def _head_body_tail(s: str) -> tuple[str, str, str]:
    head, body, tail = "", s, ""
    # A short last line or paragraph after the payload: "<text>\n\nTL;DR?".
    # A line of its own: a paragraph, or a question (else it is likely the payload's last line).
    lines = body.rstrip().split("\n")
    if len(lines) > 1:
        last = lines[-1].strip()
        rest = "\n".join(lines[:-1]).strip()
        apart = lines[-2].strip() == "" or last.endswith("?")
        if apart and _fits(last) and len(rest) >= MIN_PAYLOAD_CHARS and len(last) < len(rest) and _prose(last):
            tail, body = last, rest
    # A short first line or paragraph before more lines: "Summarize this:\n\n<text>".
    lines = body.split("\n")
    if len(lines) > 1:
        first = lines[0].strip()
        rest = "\n".join(lines[1:]).strip()
        if _fits(first) and len(rest) >= MIN_PAYLOAD_CHARS:
            return first, rest, tail
    # An inline lead-in: "Give me the gist of this abstract: We study ...". After a separate
    # closing line, only a colon marks one (a first sentence there is more likely payload).
    lead = _LEAD_END.search(body, 0, MAX_INSTRUCTION_CHARS + 1)
    if lead is not None and (not tail or lead.group() == ":"):
        rest = body[lead.end() :].strip()
        if len(rest) >= MIN_PAYLOAD_CHARS:
            head, body = body[: lead.end()].strip(), rest
            if not tail and lead.group() != ":":  # the first sentence may be payload: a closing question counts too
                tail, body = _closing_question(body)
            return head, body, tail
    if not tail:
        tail, body = _closing_question(body)
    return head, body, tail


def _closing_question(body: str) -> tuple[str, str]:
    """A short question ending the payload's last line: "<text> What is the main point?"."""
    if not body.endswith("?"):
        return "", body
    ends = list(_SENTENCE_END.finditer(body, 0, len(body) - 1))
    if not ends:
        return "", body
    start = ends[-1].end()
    question = body[start:].strip()
    rest = body[:start].strip()
    if 0 < len(question) <= MAX_TAIL_QUESTION_CHARS and len(rest) >= MIN_PAYLOAD_CHARS:
        return question, rest
    return "", body


def _prose(line: str) -> bool:
    """A line that reads as words to the assistant rather than as one more line of code or data."""
    stripped = line.strip()
    if stripped[:1] in "-*+>|#{}[]()<" or stripped[:1].isdigit():
        return False
    if stripped.startswith(("at ", "File ", "    ")) or stripped.endswith((";", "{", "}", ")", ",")):
        return False
    letters = sum(c.isalpha() or c.isspace() for c in stripped)
    return letters >= 0.8 * len(stripped) and len(stripped.split()) >= 1
