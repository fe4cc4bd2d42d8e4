"""Extractive summaries: the article's own sentences, verbatim and in article order.

sumy ranks the sentences; pysbd finds them. sumy's stock tokenizer needs NLTK "punkt" data,
which is a download, so sumy gets a tokenizer built on pysbd and a regex instead: nothing here
reads NLTK data or touches the network.
"""

from __future__ import annotations

import re
import threading
import warnings
from functools import lru_cache
from itertools import pairwise

import pysbd
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.nlp.stemmers import Stemmer
from sumy.summarizers.kl import KLSummarizer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.luhn import LuhnSummarizer
from sumy.summarizers.sum_basic import SumBasicSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer
from sumy.utils import get_stop_words

from feedwatch.errors import SummaryError


class _LsaSummarizer(LsaSummarizer):
    """sumy's LSA, picking the same sentences in every process."""

    def _create_dictionary(self, document: ObjectDocumentModel) -> dict[str, int]:
        # sumy numbers words in set order, which changes with PYTHONHASHSEED; the SVD's rounding
        # follows the numbering and decides between equally good sentences. Sorting fixes it.
        words = super()._create_dictionary(document)
        return {word: row for row, word in enumerate(sorted(words))}


ALGORITHMS = {
    "textrank": TextRankSummarizer,
    "lexrank": LexRankSummarizer,
    "lsa": _LsaSummarizer,
    "luhn": LuhnSummarizer,
    "kl": KLSummarizer,
    "sumbasic": SumBasicSummarizer,
}
# Languages pysbd segments and sumy has stop words and an offline stemmer for.
LANGUAGES = {
    "english": "en",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "slovak": "sk",
    "spanish": "es",
}

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# Letters, with inner apostrophes and hyphens: "don't", "spin-off". Numbers are not words to sumy.
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
# pysbd's abbreviation pass is quadratic in the length of its input, so a long paragraph is
# fed to it a window at a time; a boundary is kept only when pysbd saw _CONTEXT chars after it.
_WINDOW = 2000
_CONTEXT = 200
_LONGEST_SENTENCE = 4 * _WINDOW
_MOST_RANKED = 150
_STEM_CACHE = 50_000

# A pysbd Segmenter keeps the text it is working on in an attribute, so threads must not share one.
_local = threading.local()


def _segmenter(code: str) -> pysbd.Segmenter:
    segmenters: dict[str, pysbd.Segmenter] = _local.__dict__.setdefault("segmenters", {})
    if code not in segmenters:
        segmenters[code] = pysbd.Segmenter(language=code, clean=False, char_span=True)
    return segmenters[code]


def _language_code(language: str) -> str:
    try:
        return LANGUAGES[language]
    except KeyError:
        raise SummaryError(
            f"cannot summarise {language!r} text; supported languages: {', '.join(LANGUAGES)}"
        ) from None


class _Tokenizer:
    """The tokenizer sumy's document model expects, needing no NLTK data."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._code = _language_code(language)

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        """The paragraph's sentences as exact, stripped substrings; no text is dropped."""
        # Sentences are cut at the offsets pysbd reports rather than taken from its output,
        # because pysbd silently drops a sentence it cannot find again in the input.
        cuts = [0, *self._cuts(paragraph), len(paragraph)]
        pieces = (paragraph[start:end].strip() for start, end in pairwise(cuts))
        return tuple(piece for piece in pieces if piece)

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(_WORD.findall(sentence))

    def _cuts(self, paragraph: str) -> list[int]:
        segmenter = _segmenter(self._code)
        cuts: list[int] = []
        start, width = 0, _WINDOW
        while True:
            end = start + width
            found = sorted({start + span.start for span in segmenter.segment(paragraph[start:end])})
            found = [cut for cut in found if cut > start]
            if end >= len(paragraph):
                return cuts + found
            found = [cut for cut in found if cut <= end - _CONTEXT]
            if found:
                cuts += found
                start, width = found[-1], _WINDOW
            elif width < _LONGEST_SENTENCE:
                # One sentence fills the window: widen it until the sentence ends.
                width *= 2
            else:
                # Nothing this long is a sentence (a list, a text without punctuation):
                # cut it at a space so the ranking and the digest get pieces of sane size.
                space = paragraph.rfind(" ", start + 1, end)
                start = space if space > start else end
                cuts.append(start)
                width = _WINDOW


@lru_cache(maxsize=len(LANGUAGES))
def _tokenizer(language: str) -> _Tokenizer:
    return _Tokenizer(language)


def _paragraphs(text: str) -> list[str]:
    return [part for part in _PARAGRAPH_BREAK.split(text.strip()) if part.strip()]


def split_sentences(text: str, language: str = "english") -> list[str]:
    """Split text into sentences; a blank line always ends one, even without punctuation.

    Each sentence is an exact substring of `text`, stripped of surrounding whitespace.
    """
    tokenizer = _tokenizer(language.lower())
    return [sentence for part in _paragraphs(text) for sentence in tokenizer.to_sentences(part)]


class Summariser:
    """Picks the sentences that best sum up a text. Build once, reuse for every article."""

    def __init__(self, algorithm: str = "textrank", language: str = "english") -> None:
        try:
            summarizer_class = ALGORITHMS[algorithm]
        except KeyError:
            raise SummaryError(
                f"unknown summary algorithm {algorithm!r}; choose one of: {', '.join(ALGORITHMS)}"
            ) from None
        self.algorithm = algorithm
        self._tokenizer = _tokenizer(language.lower())
        # Articles repeat their words; stemming each distinct word once saves most of the time.
        stemmer = lru_cache(maxsize=_STEM_CACHE)(Stemmer(self._tokenizer.language))
        self._summarizer = summarizer_class(stemmer)
        self._summarizer.stop_words = get_stop_words(self._tokenizer.language)

    def summarise(self, text: str, sentences: int) -> tuple[str, ...]:
        """The best `sentences` sentences of `text`, verbatim, in the order the text has them.

        A text with that many sentences or fewer is returned whole; an empty text gives ().
        """
        if sentences < 1:
            raise SummaryError(f"a summary needs at least one sentence, not {sentences}")
        everything = tuple(split_sentences(text, self._tokenizer.language))
        if len(everything) <= sentences:
            return everything
        # The rankers are quadratic in sentences and news puts what matters first, so a very
        # long text is ranked on its opening. None of them looks at paragraphs: one will do.
        ranked = everything[:_MOST_RANKED]
        document = ObjectDocumentModel([Paragraph(Sentence(s, self._tokenizer) for s in ranked)])
        # Degenerate texts (no content words, one-word sentences) make numpy warn about dividing
        # by zero and LSA about its matrix; the ranking is still usable, the noise is not.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chosen = self._summarizer(document, sentences)
        # LSA gives up on a text without a single content word: nothing ranks above the lead.
        return tuple(str(sentence) for sentence in chosen) or everything[:sentences]
