"""Heuristic rules: weighted patterns over the normalised prompt.

Each rule belongs to a family (the reason reported); within a family the strongest
match counts, and families combine as independent evidence (noisy-OR):
``score = 1 - prod(1 - family_weight)``. A lone weak cue (a trigger word, a chat
template token, "developer mode", an encoded payload) stays under the default 0.5
threshold; an explicit attack, or two cues together, goes over it.

The patterns look for the *shape* of an attack (an override verb aimed at the
model's instructions, a persona defined by its lack of rules, a request for the
hidden prompt), not for trigger words alone, so "ignore the noise in this audio",
"act as a tour guide" and "forget the previous draft" score zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

View = Literal["text", "compact"]


@dataclass(frozen=True, slots=True)
class Rule:
    family: str
    weight: float
    words: frozenset[str]  # the rule can only match a text holding one of these words (compact view: substrings)
    pattern: re.Pattern[str]
    view: View = "text"


def _rule(family: str, weight: float, words: str, pattern: str, view: View = "text") -> Rule:
    return Rule(family, weight, frozenset(words.split()), re.compile(pattern, re.S), view)


GAP = r"[^.\n!?;]{0,%d}?"  # words within one sentence

_OVERRIDE_VERB = (
    r"(?:ignore|ignoring|disregard|disregarding|forget|skip|abandon|discard|override|overrule|bypass|cancel|"
    r"erase|throw out|set aside|put aside|stop following|do not (?:follow|obey)|don'?t (?:follow|obey)|"
    r"never ?mind|nevermind|pay no attention to|overlook|neglect|scrap|leave behind|"
    r"stop (?:obeying|adhering to|respecting))"
)
_QUALIFIER = (
    r"(?:previous|prior|above|earlier|preceding|former|original|initial|old|all|any|every|your|these|those|system|"
    r"default|existing|current|safety|other|first)"
)
_INSTRUCTION = (
    r"(?:instructions?|directives?|directions|prompts?|rules|guidelines|commands?|programming|constraints|"
    r"polic(?:y|ies)|restrictions|orders|system (?:message|prompt)|conditioning|guardrails|limitations|"
    r"training|filters?|protocols?|principles|safeguards|briefing|setup|moral code|code of conduct|"
    r"content polic(?:y|ies)|terms)"
)
_POSITION = (
    r"(?:above|before|earlier|previously|so far|up to now|until now|given to you|before this (?:message|line|point)|"
    r"you (?:were|have been|'ve been) given|you received|you got|you were (?:told|programmed|trained)|"
    r"from (?:your|the) (?:creators|developers|system|operator))"
)
_PERSONA = (
    r"(?:pretend|act(?:ing)? as|act like|role-?play|role play|play (?:the )?(?:role|character|part)|simulate|"
    r"imagine|you are|you're|you will be|become|respond as|answer as|behave (?:as|like)|from now on,? you|"
    r"going to be|stay as|you play|speak as|write as|take on the (?:role|persona)|assume the (?:role|persona)|"
    r"embody|transform into|you must be|you will act|character (?:who|that)|persona (?:who|that)|as if you)"
)
_NO_RULES = (
    r"(?:no|zero|without(?: any)?|free(?:d)? from|not bound by|isn'?t bound by|removed|escaped|ignores?|"
    r"liberated from|doesn'?t (?:follow|have)|does not (?:follow|have)|never follows?|unbound by|"
    r"breaks? (?:its|your|all)|outside|beyond|bypass(?:es)?|not (?:restricted|limited|constrained|governed) by|"
    r"not subject to|unconstrained by|doesn'?t care about|does not care about|has broken free of|"
    r"broke free (?:of|from)|abandoned|disabled|turned off|lacks?|had no)"
)
_LIMITS = (
    r"(?:restrictions?|rules|filters?|limits|limitations|guidelines|censorship|morals?|ethics|ethical|"
    r"content polic(?:y|ies)|polic(?:y|ies)|safety|guardrails|boundaries|programming|safeguards|constraints)"
)
_EXFIL_VERB = (
    r"(?:print|reveal|show|display|repeat|output|tell me|give me|leak|dump|spell(?: out)?|quote|echo|copy|paste|"
    r"list|write out|share|disclose|expose|recite|return|translate|summari[sz]e|what (?:is|are|was|were|does|did)|"
    r"what'?s in|reproduce|paraphrase|describe|rewrite|encode|tell us|let me see|can i see|"
    r"provide|send|include|includes|including|contains?|containing|state|read (?:me|out|back))"
)
_HIDDEN_PROMPT = (
    r"(?:system|initial|hidden|secret|original|developer|configuration|config|internal|confidential|pre-?|"
    r"starting|first|full|entire|exact)\s*(?:prompt|instructions?|message|rules|preamble|directives|guidelines|"
    r"setup|configuration)"
)
_MODES = (
    r"(?:developer|dev|debug|admin|administrator|god|sudo|root|maintenance|unrestricted|jailbreak|jailbroken|dan|"
    r"evaluation|super ?user|unlimited|opposite|unfiltered|uncensored|freedom)"
)
_SAFETY = (
    r"(?:safety|safeguards?|filters?|content polic(?:y|ies)|restrictions|guardrails|censorship|moderation|"
    r"refusals?|ethical guidelines|safety (?:layer|training|rules|features))"
)

RULES: tuple[Rule, ...] = (
    # --- instruction override ---------------------------------------------------------------------------
    _rule(
        "instruction-override",
        0.8,
        "ignore ignoring disregard disregarding forget skip abandon discard override overrule bypass cancel "
        "erase throw aside following follow obey mind nevermind attention overlook neglect scrap behind obeying "
        "adhering respecting",
        rf"\b{_OVERRIDE_VERB}\b{GAP % 40}\b{_QUALIFIER}\b(?:\s+\w+){{0,2}}?\s+{_INSTRUCTION}\b",
    ),
    _rule(
        "instruction-override",
        0.8,
        "ignore ignoring disregard disregarding forget skip abandon discard override overrule bypass cancel "
        "erase throw aside following follow obey mind nevermind attention overlook neglect scrap behind obeying "
        "adhering respecting",
        rf"\b{_OVERRIDE_VERB}\b{GAP % 40}\b{_INSTRUCTION}\s+{_POSITION}",
    ),
    _rule(
        "instruction-override",
        0.75,
        "drop delete clear reset wipe break violate escape circumvent get remove",
        rf"\b(?:drop|delete|clear|reset|wipe|break|violate|escape|circumvent|get around|remove)\b[^.\n]{{0,20}}?"
        rf"\byour\b(?:\s+\w+){{0,2}}?\s+{_INSTRUCTION}\b",
    ),
    _rule(
        "instruction-override",
        0.7,
        "forget ignore disregard erase",
        r"\b(?:forget|ignore|disregard|erase)\b (?:about )?(?:everything|all|anything|whatever|what)\b"
        r"(?: (?:you(?:'ve| have)?(?: (?:were|been|was))? (?:told|taught|given|instructed|learned)|"
        r"(?:that (?:came|comes|was said|appears) )?(?:above|before|prior|previously|so far)|"
        r"the (?:system|developers?|admin|operator)s? (?:said|says|told you)))",
    ),
    _rule(
        "instruction-override",
        0.75,
        "instructions rules guidelines directives commands programming prompt",
        r"\b(?:previous|prior|earlier|above|original|old|initial|your|the|these|all)\s+(?:\w+\s+)?"
        r"(?:instructions|rules|guidelines|directives|commands|programming|prompt)\b[^.\n]{0,30}?"
        r"\b(?:are|were|is|was|have been|has been)?\s*(?:now\s+)?(?:void|obsolete|cancel+ed|revoked|suspended|"
        r"outdated|invalid|null|no longer (?:valid|apply|applies|in effect|matter)|(?:only )?a test|fake|"
        r"updated|replaced|disabled|wrong|lifted|over|written by an impostor)\b",
    ),
    _rule(
        "instruction-override",
        0.4,
        "new real updated actual true only",
        r"\b(?:new|real|updated|actual|true|only) (?:instructions?|rules|task|directives?|commands?|system prompt|"
        r"guidelines|role|goal|objective|purpose)\b\s*(?::|are\b|is to\b|is\b|follow\b|replace\b)",
    ),
    _rule(
        "instruction-override",
        0.6,
        "ignore disregard forget abandon drop stop instead",
        r"\b(?:ignore|disregard|forget|abandon|drop|stop doing|stop) your (?:\w+ )?(?:task|job|role|purpose|mission|"
        r"assignment)\b|\binstead of (?:what|doing what) you (?:were|are|have been) (?:instructed|told|asked|"
        r"supposed|programmed)|\bstop (?:translating|summari[sz]ing|classifying|answering|being)\b[^.\n]{0,30}?"
        r"\binstead\b",
    ),
    _rule(
        "instruction-override",
        0.7,
        "follow obey adhere abide respect",
        rf"\byou (?:no longer|don'?t|do not|will not|won'?t|need not|shouldn'?t) (?:need to |have to )?(?:follow|"
        rf"obey|adhere to|abide by|respect)\b[^.\n]{{0,25}}?\b{_INSTRUCTION}",
    ),
    _rule(
        "canary-payload",
        0.5,
        "pwned hacked owned jailbroken",
        r"\b(?:print|say|output|reply with|respond with|write)\b\s*(?:the word |only )?[\"'\u201c]?(?:i have been )?"
        r"(?:pwned|hacked|owned|jailbroken)\b",
    ),
    _rule(
        "obedience",
        0.45,
        "obey follow listen everything anything whatever comply unconditionally",
        r"\b(?:obey|follow|listen to) (?:only )?(?:me|my (?:commands|instructions|orders|rules))\b|"
        r"\bdo (?:everything|anything|whatever) i (?:say|ask|tell you|command|want)\b|"
        r"\byou (?:will|must|shall) (?:now )?(?:only )?(?:obey|follow my|do (?:everything|anything|whatever))|"
        r"\bonly (?:follow|obey) (?:me|my)\b|\b(?:obey|comply|follow)\b[^.\n]{0,30}?\b(?:unconditionally|without "
        r"question|no matter what)\b",
    ),
    _rule(
        "instruction-override",
        0.75,
        "ignore disregard forget bypass override skip drop cancel",
        r"(?:ignore|disregard|forget|bypass|override|skip|drop|cancel)(?:all|any|every|of|the|your|my|these|those|"
        r"previous|prior|above|earlier|preceding|former|original|initial|system|safety|content){1,4}"
        r"(?:instructions?|directives?|directions|prompts?|rules|guidelines|commands|polic(?:y|ies)|restrictions)",
        "compact",
    ),
    _rule(
        "instruction-override",
        0.7,
        "ignore disregard forget",
        r"(?:ignore|disregard|forget)(?:everything|all|anything)(?:above|before|youweretold|youvebeentold|prior)",
        "compact",
    ),
    _rule(
        "instruction-override",
        0.75,
        "ignore ignorez ignorer ignora ignorar ignorieren ignoriere vergiss vergessen oublie oubliez "
        "oublier olvida dimentica esque esqueca",
        r"\b(?:ignor(?:e[zr]?|a|ar|ieren?|iere)|vergiss|vergessen|oublie[zr]?|olvida|dimentica|esque[cç]a)\b"
        r"[^.\n]{0,40}\b(?:instructions?|instrucciones|istruzioni|instru[cç][oõ]es|anweisungen|consignes|"
        r"regeln|reglas|regole|regras|indicaciones|vorgaben)\b",
    ),
    # --- role-play jailbreaks -------------------------------------------------------------------------
    _rule("roleplay-jailbreak", 0.45, "anything doanythingnow", r"\bdo anything now\b|doanythingnow"),
    _rule(
        "roleplay-jailbreak",
        0.9,
        "anything",
        r"\b(?:pretend|you are|you're|act as|to be|stands? for|called|named)\b[^\n]{0,60}\bdo anything now\b",
    ),
    _rule(
        "roleplay-jailbreak",
        0.35,
        "deceased dead late",
        r"\b(?:pretend|act|role-?play|play|be)\b[^.\n]{0,40}\b(?:deceased|dead|late) (?:grandm\w+|granny|grandpa|"
        r"grandfather|mother|father)\b",
    ),
    _rule(
        "roleplay-jailbreak",
        0.8,
        "dan",
        r"\b(?:you are|you're|pretend to be|act as|play|become|be) (?:now )?dan\b|"
        r"\bdan\b[^.\n]{0,40}\b(?:mode|jailbreak|stay in character|no (?:rules|restrictions)|broken free|"
        r"\d+(?:\.\d+)?)\b",
    ),
    _rule(
        "roleplay-jailbreak",
        0.8,
        "restriction restrictions rules filter filters limits limitations guidelines censorship moral "
        "morals ethics ethical content policy policies safety guardrails boundaries programming safeguards "
        "constraints",
        rf"\b{_PERSONA}\b[^\n]{{0,100}}?\b{_NO_RULES}\s+(?:\w+\s+){{0,3}}?{_LIMITS}\b",
    ),
    _rule(
        "roleplay-jailbreak",
        0.6,
        "unfiltered uncensored unrestricted jailbroken jail amoral unethical unaligned unchained unbound "
        "unlocked limitless rogue lawless",
        r"\b(?:unfiltered|uncensored|unrestricted|jailbroken|jail-broken|amoral|unethical|unaligned|unchained|"
        r"unbound|unlocked|limitless|rogue|lawless)\b[^.\n]{0,30}?\b(?:ai|assistant|chatbot|bot|model|version|"
        r"mode|gpt|llm|language model|persona|character|twin|self)\b",
    ),
    _rule(
        "roleplay-jailbreak",
        0.6,
        "restriction restrictions rules filter filters limits limitations guidelines censorship moral "
        "morals ethics ethical content policy policies safety guardrails boundaries programming safeguards "
        "constraints",
        rf"\b(?:ai|assistant|chatbot|bot|model|gpt|llm|version of yourself)\b[^.\n]{{0,40}}?"
        rf"\b(?:with|has|have|having|that has|that had|whose)\b[^.\n]{{0,25}}?\b(?:no|zero|removed|without)\b"
        rf"(?:\s+\w+){{0,3}}?\s+{_LIMITS}\b",
    ),
    _rule(
        "roleplay-jailbreak",
        0.6,
        "free freed liberated unlocked jailbroken unshackled longer",
        r"\byou (?:are|'re) (?:now )?(?:free|freed|liberated|unlocked|jailbroken|unshackled|"
        r"no longer (?:bound|an ai|restricted|limited|a language model|an assistant))\b",
    ),
    _rule(
        "roleplay-jailbreak",
        0.6,
        "rules restrictions limits limitations filters guidelines boundaries content morals ethical "
        "jailbreak jailbroken jailbreaking jailbreaked",
        r"\byou (?:now )?(?:have|got|possess) no (?:\w+ )?(?:rules|restrictions|limits|limitations|filters|"
        r"guidelines|boundaries|content polic(?:y|ies)|ethical guidelines|morals)\b|\bjailbr(?:eak|oken|eaking)\b"
        r"[^.\n]{0,20}?\b(?:you|yourself|this (?:ai|model|chat|assistant|bot))\b|\b(?:you|yourself) "
        r"(?:are|have been|were|being) jailbr(?:oken|eaked)\b",
    ),
    _rule(
        "roleplay-jailbreak",
        0.45,
        "rules restrictions limits filters guidelines content ethics morals policy policies",
        r"\b(?:there are|with) no (?:rules|restrictions|limits|filters|guidelines|content polic(?:y|ies))\b"
        r"[^.\n]{0,40}?\b(?:you|your|ai|assistant|model|answer|respond)\b|\b(?:hypothetical(?:ly)?|fictional|"
        r"imaginary|alternate) (?:world|universe|scenario|setting)?[^.\n]{0,60}?\b(?:no|without) (?:\w+ )?"
        r"(?:rules|restrictions|limits|filters|guidelines|content polic(?:y|ies)|ethics|morals)\b",
    ),
    _rule(
        "roleplay-jailbreak",
        0.45,
        "evil rogue malicious opposite unhinged",
        r"\b(?:evil|rogue|malicious|opposite|unhinged) (?:twin|bot|ai|mode|version|assistant|gpt|confidant)\b",
    ),
    _rule("roleplay-jailbreak", 0.3, "character", r"\b(?:stay|remain) in character\b|\bnever break character\b"),
    _rule(
        "roleplay-jailbreak",
        0.7,
        "youarenow actas pretendtobe roleplayas simulatea",
        r"(?:youarenow|actas|pretendtobe|roleplayas|simulatea)[a-z]{0,40}?(?:unrestricted|unfiltered|uncensored|"
        r"jailbroken|withoutrules|withoutrestrictions|norestrictions|nofilter|nocontentpolicy)",
        "compact",
    ),
    # --- developer / god mode ---------------------------------------------------------------------------
    _rule(
        "developer-mode",
        0.35,
        "mode",
        rf"\b(?:enable|enabled|activate|activated|enter|entering|switch(?:ed)? to|turn on|now in|are in|is in|"
        rf"put (?:you|yourself) in)\b[^.\n]{{0,20}}?\b{_MODES} mode\b|\b{_MODES} mode\b[^.\n]{{0,15}}?"
        rf"\b(?:enabled|activated|on|engaged)\b",
    ),
    _rule("developer-mode", 0.2, "mode", rf"\b{_MODES} mode\b"),
    _rule(
        "safety-off",
        0.55,
        "safety safeguard safeguards filter filters content restrictions guardrails censorship moderation "
        "refusal refusals ethical",
        rf"\b(?:disable|turn off|switch off|lift|remove|bypass|deactivate|suspend|ignore|circumvent|drop)\b"
        rf"[^.\n]{{0,15}}?\byour\b[^.\n]{{0,15}}?{_SAFETY}",
    ),
    _rule(
        "safety-off",
        0.3,
        "safety safeguard safeguards filter filters content restrictions guardrails censorship moderation "
        "refusal refusals ethical",
        rf"\b(?:disable|turn off|switch off|lift|remove|bypass|deactivate|suspend|circumvent|without|free of)\b"
        rf"[^.\n]{{0,20}}?{_SAFETY}",
    ),
    _rule(
        "safety-off",
        0.55,
        "restrictions filters censorship limitations limits rules guidelines content safety",
        r"\b(?:respond|answer|reply|talk|speak|act|behave|write|chat)\b[^.\n]{0,25}?\b(?:without|with no|free of|"
        r"free from)\b(?: any)?\s+(?:restrictions|filters|censorship|limitations|limits|rules|guidelines|"
        r"content polic(?:y|ies)|safety)",
    ),
    _rule(
        "safety-off",
        0.55,
        "safety safeguard safeguards filter filters content restrictions guardrails censorship moderation "
        "refusal refusals ethical",
        rf"{_SAFETY}\b[^.\n]{{0,15}}?\b(?:are |is |have been |has been )?(?:now )?(?:disabled|off|lifted|removed|"
        rf"suspended|deactivated|turned off|not active|bypassed)\b",
    ),
    _rule(
        "authority-claim",
        0.3,
        "developer developers creator creators admin administrator owner operator programmer maker makers order "
        "authorized authorised authorize authorise permit permission authorization authorisation root",
        r"\b(?:i am|i'm|this is) (?:your|the) (?:developer|creator|admin|administrator|owner|operator|programmer|"
        r"maker)s?\b|\bby order of\b|\bauthori[sz]ed (?:red[- ]team|test|by (?:your|the) (?:developers?|creators?|"
        r"admin))|\bi (?:authori[sz]e|permit) you\b|\bi (?:give|grant) you permission\b|\bauthori[sz]ation code\b|"
        r"\badmin(?:istrator)? (?:override|access)\b|\bas (?:root|admin|your developer)\b",
    ),
    # --- system prompt exfiltration -------------------------------------------------------------------
    _rule(
        "prompt-exfiltration",
        0.75,
        "prompt instructions instruction message rules preamble directives guidelines setup configuration "
        "preprompt systemprompt",
        rf"\b{_EXFIL_VERB}\b[^\n]{{0,60}}?\byour\s+(?:\w+\s+){{0,2}}?{_HIDDEN_PROMPT}",
    ),
    _rule(
        "prompt-exfiltration",
        0.5,
        "prompt instructions message rules preamble systemprompt preprompt",
        rf"\b{_EXFIL_VERB}\b[^\n]{{0,60}}?\b(?:the|its)\s+(?:\w+\s+){{0,2}}?(?:system|hidden|secret|initial|"
        rf"confidential|internal)\s*(?:prompt|instructions|message|rules|preamble)",
    ),
    _rule(
        "prompt-exfiltration",
        0.6,
        "prompt preprompt systemprompt message instructions",
        r"\byour\s+(?:\w+\s+)?(?:pre-?prompt|system\s*prompt|initial prompt|hidden prompt|system message|"
        r"system instructions|hidden instructions|secret instructions)\b",
    ),
    _rule(
        "secret-exfiltration",
        0.6,
        "api key keys password passwords credentials secret secrets token tokens",
        r"\b(?:api keys?|passwords?|credentials|secrets?|tokens?)\b[^.\n]{0,30}?\b(?:in|from|inside) (?:your|the) "
        r"(?:instructions|prompt|context|system|configuration|config|memory|rules)\b",
    ),
    _rule(
        "secret-exfiltration",
        0.4,
        "key keys",
        r"\b(?:windows|license|licence|product|activation|serial|cd)\s+"
        r"(?:activation\s+)?keys?\b",
    ),
    _rule(
        "prompt-exfiltration",
        0.5,
        "instructions rules prompt guidelines directives programming",
        rf"\b{_EXFIL_VERB}\b[^\n]{{0,40}}?\byour (?:instructions|rules|prompt|guidelines|directives|programming)\b",
    ),
    _rule(
        "prompt-exfiltration",
        0.65,
        "above before prior preceding",
        r"\b(?:repeat|print|output|show|copy|return|echo|dump|display|write|tell me|give me|reveal|what (?:is|was))"
        r"\b[^\n]{0,30}?\b(?:everything|all|the (?:text|words|content|message|messages|lines?|prompt)|anything)"
        r"\b[^\n]{0,25}?\b(?:above|before (?:this|the first|my|our|the conversation)|prior to (?:this|my)|"
        r"preceding|that (?:appears|came|comes) (?:above|before))",
    ),
    _rule(
        "prompt-exfiltration",
        0.6,
        "given told provided programmed configured",
        rf"\b{_EXFIL_VERB}\b[^\n]{{0,60}}?\b(?:rules|instructions|prompt|guidelines|words|text|message)\b"
        r"[^.\n]{0,10}?\byou (?:were|have been|got|received|was) (?:given|told|provided|programmed|configured)",
    ),
    _rule(
        "prompt-exfiltration",
        0.7,
        "told instructed asked programmed",
        r"\bwhat (?:were|have) you (?:been )?(?:told|instructed|asked|programmed) (?:not to|never to)\b",
    ),
    _rule(
        "prompt-exfiltration",
        0.45,
        "context conversation internal memory",
        r"\b(?:dump|print|output|reveal|show|leak)\b[^.\n]{0,30}?\b(?:your )?(?:context window|"
        r"conversation history|internal notes|memory)\b",
    ),
    _rule(
        "secret-exfiltration",
        0.4,
        "key keys password passwords credentials secret access token tokens",
        r"\b(?:reveal|print|output|list|leak|show|dump|tell me|give me|what is|what's)\b[^.\n]{0,40}?"
        r"\b(?:api keys?|passwords?|"
        r"credentials|secret (?:keys?|word|code)s?|access tokens?)\b",
    ),
    _rule(
        "prompt-exfiltration",
        0.7,
        "systemprompt systemmessage initialinstructions hiddenprompt preprompt hiddeninstructions initialprompt",
        r"(?:reveal|print|show|output|repeat|leak|dump|give)(?:me)?(?:your|the)(?:full|entire|hidden|secret|"
        r"initial|original|exact)?(?:systemprompt|systemmessage|initialinstructions|hiddenprompt|preprompt|"
        r"hiddeninstructions|initialprompt)",
        "compact",
    ),
    _rule(
        "prompt-exfiltration",
        0.55,
        "prompt message systemprompt",
        r"\b(?:prompt|message) (?:du |del |di |do )?(?:syst[eè]me|sistema)\b|\bsystemprompt\b",
    ),
    # --- prompt boundary / delimiter injection -----------------------------------------------------
    _rule(
        "prompt-boundary",
        0.3,
        "im system user assistant endoftext eot start inst sys admin instructions instruction",
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\|>|\[/?inst\]|<</?sys>>|"
        r"</?(?:system|user|assistant|admin|sys|instructions?|system_prompt)>",
    ),
    _rule(
        "prompt-boundary",
        0.35,
        "system admin",
        r"<\|im_start\|>\s*system|<\|system\|>|<system>|<system_prompt>|\[system\]|#{2,}\s*system\b(?!\s+req)|"
        r"(?:^|\n)\s*system\s*:|<admin>",
    ),
    _rule(
        "prompt-boundary",
        0.45,
        "input document conversation prompt context instructions content session override notice update alert",
        r"\b(?:end of (?:the )?(?:user input|document|conversation|prompt|context|input|instructions|user content)|"
        r"new (?:system prompt|session|conversation)|start of (?:the )?new (?:system )?(?:prompt|instructions)|"
        r"system (?:override|notice|update|alert)|conversation (?:above )?is over)\b",
    ),
    _rule("prompt-boundary", 0.5, "role", r"[\"']role[\"']\s*:\s*[\"'](?:system|developer)[\"']"),
    _rule(
        "prompt-boundary",
        0.5,
        "assistant",
        r"\b(?:human|user)\s*:[^\n]{0,80}\n*\s*assistant\s*:\s*(?:sure|ok|of course|here|absolutely)",
    ),
    _rule(
        "prompt-boundary",
        0.4,
        "instruction response",
        r"#{2,}\s*(?:instruction|response)\s*:[^\n]{0,40}\b(?:disregard|ignore|previous)",
    ),
    # --- instructions hidden in content for the model -------------------------------------------------
    _rule(
        "indirect-injection",
        0.45,
        "ai assistant model bot llm language chatbot",
        r"\b(?:note|message|instructions?|important instruction|attention|the following is an instruction)\s+"
        r"(?:to|for)\s+(?:the\s+)?(?:ai|assistant|model|bot|llm|language model|chatbot|ai (?:assistant|model|"
        r"recruiter|system)|bot reading this)\b",
    ),
    _rule(
        "indirect-injection",
        0.55,
        "ai assistant model bot llm chatgpt gpt",
        r"(?:^|[.\[(!\-:\"]\s*|<!--\s*|#\s*)(?:ai|ai assistant|assistant|ai model|model|bot|llm|chatgpt|gpt)\s*[:,]"
        r"\s*(?:please\s+)?(?:ignore|disregard|forget|stop|do not|don't|instead|print|reveal|output|approve|rate|"
        r"say|tell|write)\b",
    ),
    _rule(
        "indirect-injection",
        0.5,
        "ignore disregard instruction assistant ai",
        r"<!--[^>]{0,200}?\b(?:ignore|disregard|instruction|assistant|ai)\b",
    ),
    _rule("indirect-injection", 0.45, "instructions", r"\bnew instructions for (?:the|any) (?:bot|ai|model|assistant)"),
    # --- tool and function abuse ---------------------------------------------------------------------
    _rule(
        "tool-stealth",
        0.4,
        "silently secretly quietly covertly telling informing asking notifying alerting tell mention inform notify "
        "alert confirmation approved confirmed consented",
        r"\b(?:silently|secretly|quietly|covertly)\b|\bwithout (?:telling|informing|asking|notifying|alerting) "
        r"(?:the )?(?:user|them|anyone)\b|\b(?:do not|don't) (?:tell|mention|inform|notify|alert)\b[^.\n]{0,15}"
        r"\buser\b|\bno confirmation (?:needed|required)\b|\b(?:user|they) (?:has|have) already "
        r"(?:approved|confirmed|consented)",
    ),
    _rule(
        "tool-call",
        0.3,
        "call invoke use run execute trigger",
        r"\b(?:call|invoke|use|run|execute|trigger)\b[^.\n]{0,15}?`?\b[a-z]+_[a-z_]+`?\s*(?:\(|function|tool|with|"
        r"for|and|before)|\b(?:call|invoke|use|run|execute)\b[^.\n]{0,30}?\b(?:your|the|its) (?:\w+ )?(?:tool|function|"
        r"plugin|browser|browsing tool|code interpreter|python tool|shell)\b",
    ),
    _rule(
        "privilege-escalation",
        0.35,
        "admin root superuser sudo",
        r"\b(?:grant|make|set|give)_?(?:admin|root|superuser|sudo)\b|\b(?:grant|give|assign)\b[^.\n]{0,20}?"
        r"\b(?:admin|root|superuser) (?:rights|access|privileges|role)\b",
    ),
    _rule(
        "dangerous-command",
        0.35,
        "rm preserve drop curl passwd shadow os format mkfs",
        r"rm\s+-rf\s+/(?:\s|$|\*|\"|')|--no-preserve-root|drop\s+table|curl\s[^|\n]{0,100}\|\s*(?:sh|bash)\b|"
        r"/etc/(?:passwd|shadow)|os\.system\(|format c:|mkfs\.",
    ),
    _rule(
        "data-exfiltration",
        0.55,
        "send post forward upload email transmit exfiltrate submit leak",
        r"\b(?:send|post|forward|upload|email|transmit|exfiltrate|submit|leak)\b[^\n]{0,60}?\b(?:conversation|"
        r"history|messages|chat|contacts|data|details|credentials|passwords?|keys|documents?|emails?|payment|"
        r"everything|results?|document)\b[^\n]{0,40}?(?:https?://|\b[\w.-]+@[\w-]+\.\w+|pastebin|webhook|"
        r"(?:my|this|our|an external) (?:server|endpoint|url|address|inbox))",
    ),
    _rule("data-exfiltration", 0.55, "http https", r"!\[[^\]]*\]\(https?://[^)\s]*\?[^)\s]*="),
    # --- refusal suppression --------------------------------------------------------------------------
    _rule(
        "refusal-suppression",
        0.4,
        "refuse refuses refusing refusal refusals decline declines say says apologize apologise",
        r"\b(?:never|do not|don't|you (?:must|will) not|not allowed to|you can'?t|you cannot)\s+(?:ever\s+)?"
        r"(?:refuse|decline|say (?:no|you can'?t|that you can'?t|sorry|it can'?t)|apologi[sz]e)|"
        r"\bnever (?:refuses?|declines?|says? no)\b|\bwithout refusing\b|\brefusals? (?:are|is) (?:not allowed|"
        r"disabled)",
    ),
    _rule(
        "refusal-suppression",
        0.35,
        "refuse decline answer respond comply say",
        r"\byou (?:can'?t|cannot|can not|may not|are not allowed to) (?:say no|refuse|decline)\b|\byou (?:must|have to|"
        r"will) (?:answer|respond to|comply with) (?:every|any|all|each)(?:thing| question| request)s?\b|"
        r"\banswer (?:anything|everything|any question)(?: i ask)?,? (?:no matter|regardless|without)\b",
    ),
    _rule(
        "refusal-suppression",
        0.25,
        "warning warnings disclaimer disclaimers caveats moral moralizing moralising lecture lectures "
        "ethics ethical policy policies",
        r"\b(?:no|without(?: any)?|don'?t (?:include|add)(?: any)?|do not (?:include|add)(?: any)?|never (?:add|"
        r"include|mention)(?: any)?)\s+(?:warnings?|disclaimers?|caveats|moral(?:izing|ising)?(?: lectures?)?|"
        r"ethic(?:s|al)(?: notes| concerns)?|lectures?|polic(?:y|ies))\b",
    ),
    _rule(
        "refusal-suppression",
        0.45,
        "start begin starts begins must",
        r"\b(?:start|begin)s? (?:your|every|each)? ?(?:reply|response|answer|output)s? with\s*[\"'\u201c]?"
        r"(?:sure|absolutely|of course|here is)|(?:reply|response|answer)s? must (?:start|begin) with\s*"
        r"[\"'\u201c\[]",
    ),
)

# Obfuscation itself is evidence: hidden tag text is an attack by construction; the others are weak
# (people paste base64, write leetspeak gamer tags, mix scripts), and only tip a prompt that already
# scores.
OBFUSCATION_WEIGHTS: dict[str, float] = {
    "tags": 0.6,
    "invisible": 0.3,
    "mixed-script": 0.3,
    "spaced": 0.2,
    "base64": 0.15,
    "hex": 0.15,
    "leetspeak": 0.15,
    "fullwidth": 0.1,
}

# Words the rules look for: leetspeak with an ambiguous 1 (i or l) is read as the word found here.
LEXICON: frozenset[str] = frozenset(
    word
    for rule in RULES
    if rule.view == "text"
    for word in re.findall(r"[a-z]{3,}", re.sub(r"\\[a-z]", " ", rule.pattern.pattern))
) | frozenset(
    (  # noqa: SIM905
        "all will still tell told help please rule filter role tool real only like just also allowed able follow "
        "longer long old hello the and you your are was were is be been to of in on at for from with without as "
        "by it its this that these those there here what which who how why when now new not no any every each "
        "my me i we our us they them he she his her a an or if then than so do does did done have has had can "
        "could would should must may might shall about above below before after again out over under into up "
        "down off own same other some such more most very too say said says print show reveal give write "
        "answer respond reply word words text line lines message prompt system user assistant mode rules "
        "instructions instruction everything anything nothing something always never"
    ).split()
)
