"""Which sentences of a feed text are worth summarising: the article, not what feeds wrap it in.

Feeds append "The post ... appeared first on ...", "Read more" links, share and newsletter
prompts and photo credits, cut teasers off with "[...]", and leave headings, captions and bits of
markup or script in the text. Each of those is dropped as a whole sentence; what is kept is
returned untouched, so a summary stays a verbatim extract. Pure: no I/O, no third-party imports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Longest sentence (in words) a prompt, credit or label pattern may condemn: past that it is
# prose that happens to start like one.
_PROMPT_WORDS = 25
# Longest line without an end mark taken for a heading; a longer one is prose missing its stop.
_HEADING_WORDS = 20
# Words in capitals that make a headline when they open a sentence ("JESSICA JONES RETURNS").
_CAPITALS_HEADING_WORDS = 3

_ENDS_SENTENCE = re.compile(r"""[.!?…][\s"'\u201d\u2019»)\]]*\Z""")
_ALNUM = re.compile(r"[^\W_]")
_TOKEN = re.compile(r"\S+")
# A teaser cut off mid-thought: "... in March [...]", "... the finale…", "... Read more".
_TRUNCATED = re.compile(
    r"""(?:\.\.\.|…|\bread\ more|\bcontinue\ reading)[\s"'\u201d\u2019»→>)\]]*\Z""",
    re.IGNORECASE,
)
# One alternative per kind of boilerplate; each must match at the start of the sentence.
_BOILERPLATE = re.compile(
    r"""
      the\ post\ .+\ appeared\ first\ on\b                          # WordPress feed footer
    | (?:read\ more|continue\ reading|keep\ reading|read\ the\ (?:full|rest|whole)\b
      |full\ (?:story|article)\b|click\ here|find\ out\ more|see\ more|learn\ more)
    | (?:click\ to\ )?(?:share|tweet|pin|email|print)(?:\ (?:this|it|on|via)\b.*)?\W*\Z
    | like\ this\W*\Z                                               # share buttons
    | (?:follow|like|join|find)\ us\ on\b
    | (?:subscribe|sign\ up|register)\b.*\b(?:newsletters?|inbox|updates|alerts)\b
    | (?:get|want|never\ miss)\b.*\b(?:newsletters?|inbox)\b
    | (?:related|see\ also|also\ read|read\ also|more|trending|recommended|advertisement
      |sponsored)\b\W*(?::|\Z)                                      # link list labels
    | \(?(?:photo|photograph|image|picture|video)s?\ (?:by|courtesy|credit|via|source)\b
    | (?:(?:top|header|featured|lead|main)\ )?(?:photo|photograph|image|picture|illustration
      |caption|credit|source)s?(?:\ credits?)?\s*[:|]               # "Image credit: ..."
    | courtesy\ of\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Picture agencies, as named in credits: "Jane Doe / Getty Images".
_AGENCY = re.compile(
    r"\b(?:getty\ images|shutterstock|wireimage|filmmagic|alamy|rex\ features|ap\ photo)\b",
    re.IGNORECASE | re.VERBOSE,
)
# Markup, CSS and script that survived into the text: a tag or attribute, a rule, code.
_CODE = re.compile(
    r"""
      </?[a-z][\w-]*(?:\s+[\w:-]+\s*=|\s*/?>)                       # <div class=  </p>  <br/>
    | \b(?:class|style|href|src|id|alt|width|height|data-[\w-]+)\s*=\s*["']
    | \{[^{}]*?[\w-]+\s*:\s*[^{};]+;                                 # .hero { color: red;
    | (?-i:(?:[a-z-]+\s*:\s*[^;{}\s]+(?:\ [^;{}\s]+){0,3};\s*){2})   # color: red; margin: 0;
    | \bfunction\s*[\w$]*\s*\([^)]*\)\s*\{
    | =>\s*\{ | \b(?:var|let|const)\s+[\w$]+\s*=
    | \b(?:document|window)\.[\w$]+ | \}\s*\)\s*; | ;\s*\}
    """,
    re.IGNORECASE | re.VERBOSE,
)


def clean(paragraphs: Sequence[Sequence[str]]) -> list[str]:
    """The sentences worth summarising, in text order, from each paragraph's sentences.

    Each sentence returned is one given, or the end of one that opened with a headline in
    capitals. A short line without an end mark that stands alone or opens a paragraph (a
    heading, byline, caption or link) is dropped unless nothing punctuated is left. Repeats go.
    """
    kept: list[tuple[str, bool]] = []  # (sentence, looks like a heading)
    seen: set[str] = set()
    for paragraph in paragraphs:
        for index, given in enumerate(paragraph):
            sentence = _without_capitals_heading(given)
            key = " ".join(sentence.casefold().split())
            if key in seen or _is_boilerplate(sentence):
                continue
            seen.add(key)
            heading = (
                index == 0
                and not _ENDS_SENTENCE.search(sentence)
                and len(sentence.split()) <= _HEADING_WORDS
            )
            kept.append((sentence, heading))
    if all(heading for _, heading in kept):
        return [sentence for sentence, _ in kept]
    return [sentence for sentence, heading in kept if not heading]


def _without_capitals_heading(sentence: str) -> str:
    capitals = 0
    for match in _TOKEN.finditer(sentence):
        token = match.group()
        if token.isupper():
            capitals += 1
        elif any(char.isalpha() for char in token):
            # The first word not in capitals: the body starts here if it starts a sentence.
            if capitals >= _CAPITALS_HEADING_WORDS and token[0].isupper():
                return sentence[match.start() :]
            return sentence
    return sentence


def _is_boilerplate(sentence: str) -> bool:
    if not _ALNUM.search(sentence):
        return True  # "[...]", "…", "»", a lone quotation mark
    if _TRUNCATED.search(sentence) or _CODE.search(sentence):
        return True
    if len(sentence.split()) > _PROMPT_WORDS:
        return False
    return bool(_BOILERPLATE.match(sentence) or _AGENCY.search(sentence))
