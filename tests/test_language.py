from __future__ import annotations

import pysbd.languages
import pytest
from sumy.nlp.stemmers import Stemmer, null_stemmer
from sumy.utils import get_stop_words, normalize_language

from feedwatch import language

GERMAN = (
    "Die dritte Staffel der Serie startet im Frühjahr. Die Hauptdarstellerin kehrt zurück, "
    "und die Dreharbeiten an der Küste sind schon abgeschlossen."
)
FRENCH = (
    "La troisième saison de la série commence au printemps. L'actrice principale revient et "
    "le tournage sur la côte est déjà terminé."
)
ENGLISH = (
    "The third season of the series starts in the spring. The lead actress returns and "
    "filming on the coast has already finished."
)
PORTUGUESE = (
    "A terceira temporada da série começa na primavera. A atriz principal volta e as "
    "gravações no litoral já terminaram."
)


def shared_languages() -> set[str]:
    """The codes pysbd has rules for and sumy has stop words and a real stemmer for."""
    shared = set()
    for code in pysbd.languages.LANGUAGE_CODES:
        # sumy names Greek "greek", its ISO table "modern greek (1453-)".
        name = language.NAMES.get(code) or normalize_language(code)
        try:
            stop_words = get_stop_words(name)
            stemmer = Stemmer(name)
        except LookupError:
            continue
        if stop_words and stemmer._stemmer is not null_stemmer:
            shared.add(code)
    return shared


def test_the_supported_languages_are_those_pysbd_and_sumy_share() -> None:
    assert shared_languages() == language.SUPPORTED
    assert {"en", "de", "fr", "es", "it"} <= language.SUPPORTED


@pytest.mark.parametrize(
    ("text", "code"), [(GERMAN, "de"), (FRENCH, "fr"), (ENGLISH, "en"), (PORTUGUESE, "pt")]
)
def test_a_paragraph_s_language_is_detected(text: str, code: str) -> None:
    assert language.detect(text) == code


@pytest.mark.parametrize("text", ["", "   ", "12 345 678", "2024-05-01 19:22", "…!?"])
def test_text_without_words_has_no_language(text: str) -> None:
    assert language.detect(text) is None


@pytest.mark.parametrize(
    ("declared", "code"),
    [("de", "de"), ("de-DE", "de"), ("DE_at", "de"), (" fr-CA ", "fr"), ("en-GB", "en")],
)
def test_a_declared_supported_language_wins_over_detection(declared: str, code: str) -> None:
    assert language.choose(declared, ENGLISH if code != "en" else GERMAN) == code


@pytest.mark.parametrize("declared", [None, "", "tlh", "pt-BR", "x-klingon"])
def test_an_unsupported_or_missing_declaration_falls_back_on_detection(
    declared: str | None,
) -> None:
    assert language.choose(declared, GERMAN) == "de"
    assert language.choose(declared, FRENCH) == "fr"


def test_a_detected_language_the_summariser_lacks_gives_english() -> None:
    assert language.detect(PORTUGUESE) == "pt"
    assert language.choose(None, PORTUGUESE) == "en"
    assert language.choose("pt-BR", PORTUGUESE) == "en"


def test_an_unsure_detection_gives_english() -> None:
    assert language.choose(None, "12 345") == "en"
    assert language.choose("", "") == "en"


def test_supported_reads_a_tag_s_primary_code() -> None:
    assert language.supported("it-CH") == "it"
    assert language.supported("pt-BR") == "en"
    assert language.supported(None) == "en"


@pytest.mark.parametrize("text", ["Ein Satz \ud800 mit Wörtern", "Ein Satz \x00\x01 mit Wörtern"])
def test_text_the_detector_cannot_read_is_no_language(text: str) -> None:
    assert language.detect(text) is None
