"""Which language a text is in, as the ISO 639-1 code the summariser and cleaning go by.

Detection is Google's CLD2 (pycld2): compiled, its tables inside the package (no download),
a fraction of a millisecond per text and about 3 MB of memory. py3langid was tried first and
cost the daemon some 110 MB of memory once its model was loaded; lingua is heavier still.
It is loaded where first used, so a cycle whose feeds all declare a supported language never
pays for it.
"""

from __future__ import annotations

DEFAULT = "en"
# The languages pysbd segments and sumy both stems (with a real stemmer) and has stop words
# for, by code, with the name sumy knows each by. pysbd has no Portuguese, Dutch, Danish or
# Russian rules; sumy has no stop words for Dutch, Danish or Russian; sumy's Chinese and
# Japanese "stemmers" only lowercase, and their words need segmenters (jieba, tinysegmenter)
# that sumy's regex tokenizer is not.
NAMES = {
    "ar": "arabic",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "it": "italian",
    "pl": "polish",
    "sk": "slovak",
}
SUPPORTED = frozenset(NAMES)

# Below this share of the text (percent) the guess is noise: a headline, a name, numbers.
_CONFIDENCE = 50
# The opening of a text says its language as well as the whole does, at a fraction of the cost.
_SAMPLE = 10_000


def primary(tag: str | None) -> str:
    """The ISO 639 code a language tag starts with: "pt-BR", "pt_br", " PT " -> "pt"."""
    return (tag or "").strip().replace("_", "-").partition("-")[0].lower()


def supported(tag: str | None) -> str:
    """`tag`'s code when the summariser handles it, else English."""
    code = primary(tag)
    return code if code in SUPPORTED else DEFAULT


def detect(text: str) -> str | None:
    """The ISO 639-1 code of the language `text` is written in, or None when unsure."""
    sample = text[:_SAMPLE]
    if not any(char.isalpha() for char in sample):
        return None
    import pycld2

    try:
        reliable, _, guesses = pycld2.detect(sample)
    except (pycld2.error, UnicodeEncodeError):  # control characters, lone surrogates
        return None
    _, code, percent, _ = guesses[0]
    return primary(code) if reliable and percent >= _CONFIDENCE and code != "un" else None


def choose(declared: str | None, text: str) -> str:
    """The language to summarise `text` in: the declared one when supported, else the
    detected one when detection is confident and it is supported, else English."""
    code = primary(declared)
    if code in SUPPORTED:
        return code
    detected = detect(text)
    return detected if detected in SUPPORTED else DEFAULT
