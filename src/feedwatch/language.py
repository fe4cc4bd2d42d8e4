"""Which language a text is in, as the ISO 639-1 code the summariser and cleaning go by.

Detection is py3langid's naive Bayes model, picked over lingua for its weight: one model of
4 MB inside the package (no download), numpy its only dependency; it loads in well under a
second and reads the 10,000 characters it is given in about 2 ms (measured on the loaded
development machine). It is loaded where first used, so a cycle whose feeds all declare a
supported language never pays for it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

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

# Below this probability the guess is noise: a headline, a name, a list of numbers.
_CONFIDENCE = 0.5
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
    code, probability = _identifier().classify(sample)
    return code if probability >= _CONFIDENCE else None


def choose(declared: str | None, text: str) -> str:
    """The language to summarise `text` in: the declared one when supported, else the
    detected one when detection is confident and it is supported, else English."""
    code = primary(declared)
    if code in SUPPORTED:
        return code
    detected = detect(text)
    return detected if detected in SUPPORTED else DEFAULT


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
