"""Which sentences of a feed text are worth summarising: the article, not what feeds wrap it in.

Feeds append "The post ... appeared first on ...", "Read more" links, share and newsletter
prompts and photo credits, cut teasers off with "[...]", and leave headings, captions and bits of
markup or script in the text. Each of those is dropped as a whole sentence; what is kept is
returned untouched, so a summary stays a verbatim extract. Pure: no I/O, no third-party imports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

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
# The footer WordPress writes under each entry, as its translations word it: "The post X
# appeared first on Y". Checked in every text, whatever its language: the footer follows the
# site's settings, not the article's language, and no prose matches it. X is the title, of any
# length and punctuation, so the footer may span several of pysbd's sentences: _FOOTER_START
# opens it, _FOOTER_END closes it.
_FOOTER_START = re.compile(
    r"""(?:the\ post|der\ beitrag|l['\u2019]article|la\ entrada|o\ post|l['\u2019]articolo)\s""",
    re.IGNORECASE | re.VERBOSE,
)
_FOOTER_END = re.compile(
    r"""\s(?:appeared\ first\ on|first\ appeared\ on|erschien\ zuerst\ auf
    |est\ apparu\ en\ premier\ sur|se\ public[óo]\ primero\ en|apareceu\ primeiro\ em
    |proviene\ da)\s""",
    re.IGNORECASE | re.VERBOSE,
)
# Most sentences of a title a footer may span: "The post Back? Yes. appeared first on Y."
_FOOTER_SENTENCES = 4

# Each language's boilerplate: prompts to read on ("more"), to subscribe, share or follow,
# labels of link lists and credits. Every pattern must match at the start of the sentence;
# "more" also ends a teaser. English applies to every text: feeds in any language carry
# English share widgets and plugins. A text read as English gets every language's rules: that
# is what the summariser reads the languages it cannot split (Portuguese among them) as, and
# each pattern here is a whole prompt that prose in another language does not open with.
_RULES: dict[str, dict[str, str]] = {
    "en": {
        "more": r"""read\ more|continue\ reading|keep\ reading""",
        "prompts": r"""
              read\ the\ (?:full|rest|whole)\b|full\ (?:story|article)\b|click\ here
            | find\ out\ more|see\ more|learn\ more
            | (?:click\ to\ )?(?:share|tweet|pin|email|print)(?:\ (?:this|it|on|via)\b.*)?\W*\Z
            | like\ this\W*\Z                                           # share buttons
            | (?:follow|like|join|find)\ us\ on\b
            | (?:subscribe|sign\ up|register)\b.*\b(?:newsletters?|inbox|updates|alerts)\b
            | (?:get|want|never\ miss)\b.*\b(?:newsletters?|inbox)\b
            | (?:please\ )?(?:hit|click|smash|press|tap)\b.*\b(?:subscribe|like)\ button\b
            | (?:related|see\ also|also\ read|read\ also|more|trending|recommended
              |advertisement|sponsored)\b\W*(?::|\Z)                    # link list labels
            | \(?(?:photo|photograph|image|picture|video)s?\ (?:by|courtesy|credit|via|source)\b
            | (?:(?:top|header|featured|lead|main)\ )?(?:photo|photograph|image|picture
              |illustration|caption|credit|source)s?(?:\ credits?)?\s*[:|]  # "Image credit:"
            | courtesy\ of\b
        """,
    },
    "de": {
        "more": r"""weiterlesen|mehr\ lesen|(?:hier\ )?(?:geht['\u2019]s|geht\ es)\ weiter""",
        "prompts": r"""
              (?:hier\ )?(?:mehr\ erfahren|mehr\ dazu|mehr\ zum\ thema|klicken)\b
            | (?:jetzt\ )?(?:teilen|twittern|drucken)(?:\ (?:auf|via|per)\b.*)?\W*\Z
            | folg(?:t|en\ sie)?\ uns\ auf\b
            | (?:jetzt\ )?(?:abonnier|anmelden|registrier)\w*\b.*\b(?:newsletter|kanal
              |postfach|abo)\w*\b
            | (?:jetzt\ )?(?:unseren|den)\ newsletter\b
            | (?:lesen\ sie\ auch|lies\ auch|auch\ interessant|das\ könnte\ dich\ auch
              |verwandte\ artikel|mehr|anzeige|werbung)\b\W*(?::|\Z)
            | (?:titel)?(?:bild|foto|quelle|bildquelle)(?:nachweis)?\s*[:|]
        """,
    },
    "fr": {
        "more": r"""lire\ la\ suite|lire\ plus|(?:la\ )?suite\ de\ l['\u2019]article""",
        "prompts": r"""
              en\ savoir\ plus|cliquez\ ici
            | (?:partager|imprimer|envoyer)(?:\ (?:sur|par|via)\b.*)?\W*\Z
            | suivez[-\ ]nous\ sur\b
            | (?:abonnez[-\ ]vous|inscrivez[-\ ]vous)\b.*\b(?:newsletters?|lettre
              |chaîne|alertes)\b
            | (?:à\ lire\ aussi|lire\ aussi|voir\ aussi|sur\ le\ même\ sujet|publicité)\b
              \W*(?::|\Z)
            | (?:crédits?\ photos?|photo|image|source)\s*[:|]
        """,
    },
    "es": {
        "more": r"""le(?:er|e)\ más|segu(?:ir|í|e)\ leyendo|sigue\ leyendo""",
        "prompts": r"""
              (?:haz|haga)\ clic\ aquí|más\ información\b
            | (?:compartir|comparte|imprimir)(?:\ (?:en|por|vía)\b.*)?\W*\Z
            | síguenos\ en\b
            | (?:suscríbete|suscribete|regístrate|apúntate)\b.*\b(?:boletín|newsletter
              |canal|alertas)\b
            | (?:le(?:er|e)\ también|ver\ también|relacionad[oa]s?|te\ puede\ interesar
              |publicidad|más)\b\W*(?::|\Z)
            | (?:foto|fotografía|imagen|fuente)s?\s*[:|]
        """,
    },
    "pt": {
        "more": r"""leia\ mais|continu(?:e|ar)\ lendo|saiba\ mais""",
        "prompts": r"""
              clique\ aqui
            | (?:compartilhe|compartilhar|partilhar|imprimir)(?:\ (?:no|na|em|por|via)\b.*)?
              \W*\Z
            | siga[-\ ]nos\b
            | (?:inscreva[-\ ]se|assine|cadastre[-\ ]se)\b.*\b(?:newsletter|canal|boletim
              |alertas)\b
            | (?:leia\ também|veja\ também|relacionad[oa]s?|publicidade|mais)\b\W*(?::|\Z)
            | (?:foto|imagem|fonte|crédito)s?\s*[:|]
        """,
    },
    "it": {
        "more": r"""continua\ a\ leggere|leggi\ (?:tutto|di\ più)""",
        "prompts": r"""
              scopri\ di\ più|clicca\ qui
            | (?:condividi|stampa)(?:\ (?:su|via|con)\b.*)?\W*\Z
            | seguici\ su\b
            | iscriviti\b.*\b(?:newsletter|canale|notifiche)\b
            | (?:leggi\ anche|potrebbe\ interessarti|correlati|pubblicità)\b\W*(?::|\Z)
            | (?:foto|immagine|fonte)s?\s*[:|]
        """,
    },
}
# A teaser cut off mid-thought: "... in March [...]", "... the finale…", "... Read more".
_TRUNCATION_MARKS = r"""\.\.\.|…"""
_TRUNCATION_TAIL = r"""[\s"'\u201d\u2019»→>)\]]*\Z"""
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


def clean(paragraphs: Sequence[Sequence[str]], language: str = "en") -> list[str]:
    """The sentences worth summarising, in text order, from each paragraph's sentences.

    `language` (an ISO 639-1 code) picks the boilerplate rules besides the English ones;
    English, or a language without rules of its own, gets every language's. Each sentence
    returned is one given, or the end of one that opened with a headline in capitals. A short
    line without an end mark that stands alone or opens a paragraph (a heading, byline,
    caption or link) is dropped unless nothing punctuated is left. Repeats go.
    """
    rules = _rules(language)
    kept: list[tuple[str, bool]] = []  # (sentence, looks like a heading)
    seen: set[str] = set()
    for paragraph in paragraphs:
        footer = _footer(paragraph)
        for index, given in enumerate(paragraph):
            sentence = _without_capitals_heading(given)
            key = " ".join(sentence.casefold().split())
            if index in footer or key in seen or _is_boilerplate(sentence, rules):
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


class _Rules(NamedTuple):
    truncated: re.Pattern[str]
    boilerplate: re.Pattern[str]


@lru_cache(maxsize=len(_RULES) + 1)
def _rules(language: str) -> _Rules:
    if language == "en" or language not in _RULES:
        chosen = list(_RULES.values())
    else:
        chosen = [_RULES["en"], _RULES[language]]
    more = "|".join(rules["more"] for rules in chosen)
    prompts = "|".join(f"{rules['more']}|{rules['prompts']}" for rules in chosen)
    flags = re.IGNORECASE | re.VERBOSE
    return _Rules(
        re.compile(rf"(?:{_TRUNCATION_MARKS}|\b(?:{more})){_TRUNCATION_TAIL}", flags),
        re.compile(prompts, flags),
    )


def _footer(paragraph: Sequence[str]) -> set[int]:
    """Which of the paragraph's sentences make up a "The post X appeared first on Y" footer."""
    footer: set[int] = set()
    start: int | None = None
    for index, sentence in enumerate(paragraph):
        opening = _FOOTER_START.match(sentence)
        if opening and _FOOTER_END.search(sentence, opening.end() - 1):
            footer.add(index)
            start = None
            continue
        if start is not None and index - start < _FOOTER_SENTENCES:
            if _FOOTER_END.search(sentence):
                footer.update(range(start, index + 1))
                start = None
        else:
            start = None
        # Spread over sentences, the title must look like one: "The post office was..." is
        # prose.
        if opening and not sentence[opening.end() :][:1].islower():
            start = index
    return footer


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


def _is_boilerplate(sentence: str, rules: _Rules) -> bool:
    if not _ALNUM.search(sentence):
        return True  # "[...]", "…", "»", a lone quotation mark
    if rules.truncated.search(sentence) or _CODE.search(sentence):
        return True
    if len(sentence.split()) > _PROMPT_WORDS:
        return False
    return bool(rules.boilerplate.match(sentence) or _AGENCY.search(sentence))
