"""Extractive summaries: the article's own sentences, verbatim and in article order.

One path builds the document for every summarizer: pysbd finds the sentences (with the rules of
the text's language), cleaning.py drops the feed boilerplate among them, and the candidates go
into sumy's document model, which a sumy summarizer ranks: feedwatch's own (the default, see
CentralitySummarizer) or one of sumy's six, each with sumy's stemmer and stop words for the
language. sumy's stock tokenizer needs NLTK "punkt" data, which is a download, so sumy gets a
tokenizer built on pysbd and a regex instead: nothing here reads NLTK data or touches the
network.

numpy, pysbd, sumy and NLTK (which sumy's stemmers import) are imported where first used, not
with this module: together they cost tens of MB and a good part of a second, which a cycle with
nothing to summarise does not need to pay.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from feedwatch import cleaning
from feedwatch.config import SUMMARY_ALGORITHMS
from feedwatch.errors import SummaryError
from feedwatch.language import NAMES, SUPPORTED, primary, supported
from feedwatch.text import PARAGRAPH_BREAK

if TYPE_CHECKING:
    import numpy as np
    import pysbd

DEFAULT_ALGORITHM = "feedwatch"
# The names config accepts; each is the default or one of sumy's (see _summarizer_classes).
ALGORITHMS = SUMMARY_ALGORITHMS

# Letters, with inner apostrophes and hyphens: "don't", "spin-off". Numbers are not words to sumy.
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
# Words and numbers: what two sentences must share to be near repeats of each other.
_TOKEN = re.compile(r"[^\W_]+")
# Share of the longer sentence's distinct tokens the other must have to be its near repeat:
# "said on Monday" against "said on Tuesday" in a sentence of ten words or more.
_ALIKE = 0.8
# Longest text (in characters) split into sentences. pysbd takes about 5 s a MB and ranking
# looks at the first _MOST_RANKED sentences only, which 200 KB of any article holds many times.
_LONGEST_TEXT = 200_000
_SENTENCE_END = re.compile(r"""[.!?\u2026]["'\u201d\u2019\u00bb)\]]*\s""")
# pysbd's abbreviation pass is quadratic in the length of its input, so a long paragraph is
# fed to it a window at a time; a boundary is kept only when pysbd saw _CONTEXT chars after it.
_WINDOW = 2000
_CONTEXT = 200
_LONGEST_SENTENCE = 4 * _WINDOW
_MOST_RANKED = 150
_SWAP_GUILLEMETS = str.maketrans("\u00bb\u00ab", "\u00ab\u00bb")
_STEM_CACHE = 50_000

_log = logging.getLogger(__name__)

# feedwatch's ranking. Every choice below was made for ROUGE-2 F1 at 3 sentences on the business,
# politics, sport and tech articles of the BBC News Summary corpus, entertainment held out;
# bench/summary_quality.py measures it.
_DAMPING = 0.85  # PageRank's usual value; 0.5, 0.7, 0.9 and 0.95 all did worse
_LENGTH_WEIGHT = 0.3  # longer sentences say more; the centrality alone favours short ones
_QUOTE_PENALTY = 0.1  # a quote opening a sentence reads badly out of context
_QUOTES = "\"'\u2018\u201c"
_RANK_TOLERANCE = 1e-6
_RANK_ITERATIONS = 100
# English function words: the default's stop words for English. sumy's English list (580 words)
# also drops words news is made of ("new", "first", "said", "million") and scored worse.
# "us" is missing on purpose: lowercased, it is also "US".
_FUNCTION_WORD_LIST = """
    a an the this that these those
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves
    what which who whom whose when where why how
    am is are was were be been being have has had having do does did doing can will shall should
    and but or nor if because as until while so than then once
    of at by for with about against between into through during before after above below to from
    up down in out on off over under again further here there
    all any both each few more most other some such no not only own same too very just now
    i'm i've i'd i'll you're you've you'll you'd he's he'd he'll she's she'd she'll it's it'd
    it'll we're we've we'd we'll they're they've they'd they'll that's that'll there's what's
    who's isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't wouldn't
    shan't shouldn't can't cannot couldn't mustn't mightn't needn't should've would've could've
    let's
"""
_FUNCTION_WORDS = frozenset(_FUNCTION_WORD_LIST.split())


@lru_cache(maxsize=len(SUPPORTED))
def _segmenter(code: str) -> pysbd.Segmenter:
    import pysbd

    return pysbd.Segmenter(language=code, clean=False)


def _starts(segmenter: pysbd.Segmenter, text: str) -> list[int]:
    """Where pysbd's sentences start in `text`."""
    # pysbd's own character spans cost one compiled regex per sentence: 40% of its time, and
    # they push its other patterns out of re's cache. Its sentences are found with str.find
    # instead, in a copy with line breaks written as pysbd writes them ("\r"). One that cannot
    # be found again only starts no new sentence: no text is lost. A Processor is made per
    # call, so threads may share the Segmenter.
    haystack = text.replace("\n", "\r")
    starts: list[int] = []
    position = 0
    for sentence in segmenter.processor(text).process():
        stripped = sentence.strip()
        found = haystack.find(stripped, position) if stripped else -1
        if found >= 0:
            starts.append(found)
            position = found + len(stripped)
    return starts


class _Tokenizer:
    """The tokenizer sumy's document model expects, needing no NLTK data."""

    def __init__(self, code: str) -> None:
        self._code = code

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        """The paragraph's sentences as exact, stripped substrings; no text is dropped."""
        # Sentences are cut where pysbd's start rather than taken from its output, because
        # pysbd rewrites some characters (line breaks) and such a sentence must not be lost.
        cuts = [0, *self._cuts(paragraph), len(paragraph)]
        pieces = (paragraph[start:end].strip() for start, end in pairwise(cuts))
        return tuple(piece for piece in pieces if piece)

    def to_words(self, sentence: str) -> tuple[str, ...]:
        # Typographic apostrophes become ASCII ones, as the stop word lists write them.
        return tuple(_WORD.findall(sentence.replace("\u2019", "'")))

    def _cuts(self, paragraph: str) -> list[int]:
        segmenter = _segmenter(self._code)
        # German (and Polish, Slovak...) quotes »so«; pysbd knows only «this» order as a
        # quotation and, given »so«, takes the text between two quotations for one, splitting
        # no sentence in it. Swapped, the copy has the same length, so the cuts hold for both.
        opening, closing = paragraph.find("\u00bb"), paragraph.find("\u00ab")
        if opening >= 0 and not 0 <= closing < opening:
            paragraph = paragraph.translate(_SWAP_GUILLEMETS)
        cuts: list[int] = []
        start, width = 0, _WINDOW
        while True:
            end = start + width
            found = [start + cut for cut in _starts(segmenter, paragraph[start:end]) if cut > 0]
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


@lru_cache(maxsize=len(SUPPORTED))
def _tokenizer(code: str) -> _Tokenizer:
    return _Tokenizer(code)


def _paragraphs(text: str) -> list[str]:
    return [part for part in PARAGRAPH_BREAK.split(text.strip()) if part.strip()]


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Split text into sentences; a blank line always ends one, even without punctuation.

    Each sentence is an exact substring of `text`, stripped of surrounding whitespace.
    `language` is an ISO 639-1 code; one pysbd and sumy do not share is read as English.
    """
    tokenizer = _tokenizer(supported(language))
    return [sentence for part in _paragraphs(text) for sentence in tokenizer.to_sentences(part)]


class Summariser:
    """Picks the sentences that best sum up a text or a story. Build once, reuse for every one."""

    def __init__(self, algorithm: str = DEFAULT_ALGORITHM) -> None:
        if algorithm not in ALGORITHMS:
            raise SummaryError(
                f"unknown summary algorithm {algorithm!r}; choose one of: {', '.join(ALGORITHMS)}"
            )
        self.algorithm = algorithm

    def summarise(self, text: str, sentences: int, language: str = "en") -> tuple[str, ...]:
        """The best `sentences` sentences of `text`, verbatim, in the order the text has them.

        `language` is an ISO 639-1 code; one the summariser does not handle is read as English.
        Feed boilerplate, headings and fragments of markup are never picked (see cleaning.py).
        A text with that many sentences or fewer left is returned whole; an empty text gives ().
        """
        return self.summarise_many((text,), sentences, language)

    def summarise_many(
        self, texts: Sequence[str], sentences: int, language: str = "en"
    ) -> tuple[str, ...]:
        """The best `sentences` sentences of a story told by several texts, as `summarise`.

        The texts' paragraphs make one document; a sentence two texts share (or nearly: the
        same words but a few) is a candidate once, where it first appears. Text order is kept:
        the first text's sentences come first.
        """
        if sentences < 1:
            raise SummaryError(f"a summary needs at least one sentence, not {sentences}")
        code = supported(language)
        tokenizer = _tokenizer(code)
        paragraphs = [
            tokenizer.to_sentences(part) for text in texts for part in _paragraphs(_capped(text))
        ]
        # Cleaning reads the language asked for, not the fallback: its rules know languages
        # (Portuguese) that pysbd cannot segment.
        candidates = _distinct(cleaning.clean(paragraphs, primary(language) or code))
        if len(candidates) <= sentences:
            return candidates
        from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence

        # None of the summarizers looks at paragraphs: one will do.
        document = ObjectDocumentModel([Paragraph([Sentence(s, tokenizer) for s in candidates])])
        # Degenerate texts (no content words, one-word sentences) make numpy warn about dividing
        # by zero and LSA about its matrix; the ranking is still usable, the noise is not.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chosen = _summarizer(self.algorithm, code)(document, sentences)
        # LSA gives up on a text without a single content word: nothing ranks above the lead.
        return tuple(str(sentence) for sentence in chosen) or candidates[:sentences]


def _capped(text: str) -> str:
    """`text`, or its opening _LONGEST_TEXT characters ending where a paragraph or sentence does."""
    if len(text) <= _LONGEST_TEXT:
        return text
    head = text[:_LONGEST_TEXT]
    # The last paragraph end, else sentence end, else space, in the second half of the cap: a
    # cut further back would lose more than a paragraph can be worth.
    paragraph_ends = (match.start() for match in PARAGRAPH_BREAK.finditer(head))
    sentence_ends = (match.end() for match in _SENTENCE_END.finditer(head))
    end = next(
        (
            last
            for ends in (paragraph_ends, sentence_ends, [head.rfind(" ")])
            if (last := max(ends, default=-1)) > _LONGEST_TEXT // 2
        ),
        _LONGEST_TEXT,
    )
    kept = text[:end]
    _log.info(
        "summarising the first %d of %d characters of a text: the rest comes too late to matter",
        len(kept),
        len(text),
    )
    return kept


def _distinct(sentences: Sequence[str]) -> tuple[str, ...]:
    """The first _MOST_RANKED sentences that are not near repeats of an earlier one."""
    kept: list[str] = []
    seen: list[frozenset[str]] = []
    for sentence in sentences:
        words = frozenset(word.lower() for word in _TOKEN.findall(sentence))
        if any(_alike(words, other) for other in seen):
            continue
        kept.append(sentence)
        seen.append(words)
        # The summarizers are quadratic in sentences and news puts what matters first, so a
        # very long text or story is ranked on its opening.
        if len(kept) == _MOST_RANKED:
            break
    return tuple(kept)


def _alike(words: frozenset[str], other: frozenset[str]) -> bool:
    longer = max(len(words), len(other))
    return bool(longer) and len(words & other) >= _ALIKE * longer


@lru_cache(maxsize=len(ALGORITHMS) * len(SUPPORTED))
def _summarizer(algorithm: str, code: str) -> Any:
    """The summarizer `algorithm` names, with sumy's stemmer and stop words for `code`."""
    if algorithm == DEFAULT_ALGORITHM and code == "en":
        # What the default was tuned with on English: sumy's Snowball stemmer costs it 2 points
        # of ROUGE-2 on the BBC corpus (62.8 against 64.8 on entertainment, 55.8 against 57.1
        # on politics), so English words are compared as written (lower-cased, as sumy's
        # null_stemmer does for languages without a stemmer).
        summarizer = CentralitySummarizer(str.lower)
        summarizer.stop_words = _FUNCTION_WORDS
        return summarizer
    from sumy.nlp.stemmers import Stemmer
    from sumy.utils import get_stop_words

    name = NAMES[code]
    if code == "pl":
        import pystempel.streams

        # sumy's Polish stemmer loads its table through a progress bar on stderr, which would
        # land in the daemon's log.
        pystempel.streams.DISABLE_TQDM = True
    # Articles repeat their words; stemming each distinct word once saves most of the time.
    summarizer = _summarizer_classes()[algorithm](lru_cache(maxsize=_STEM_CACHE)(Stemmer(name)))
    summarizer.stop_words = get_stop_words(name)
    return summarizer


class CentralitySummarizer:
    """feedwatch's ranking: how central a sentence is to the text, how long, how it opens.

    Centrality is PageRank over the sentences linked by the cosine similarity of their
    counts of content words, stemmed (but in English, see _summarizer). Cosine did better
    than sumy TextRank's shared-word count, TF-IDF and Jaccard; a sentence's likeness to
    the headline (its words shared with the title) made no measurable difference.

    Built (with a stemmer) and called (with a sumy document) as sumy's summarizers are, but
    not on their base class, AbstractSummarizer: its module imports NLTK's stemmers, 0.2 s
    and 17 MB that the default on English, which stems nothing, would load for nothing.
    """

    def __init__(self, stemmer: Callable[[str], str]) -> None:
        self._stemmer = stemmer
        self._stop_words: frozenset[str] = frozenset()

    @property
    def stop_words(self) -> frozenset[str]:
        return self._stop_words

    @stop_words.setter
    def stop_words(self, words: Iterable[str]) -> None:
        self._stop_words = frozenset(word.lower() for word in words)

    def __call__(self, document: Any, sentences_count: int) -> tuple[Any, ...]:
        """The `sentences_count` best rated sentences, in document order; of two rated the
        same, the earlier (as sumy's summarizers choose)."""
        sentences = document.sentences
        ratings = self.rate_sentences(sentences) if sentences else []
        best = sorted(range(len(sentences)), key=ratings.__getitem__, reverse=True)
        return tuple(sentences[index] for index in sorted(best[:sentences_count]))

    def rate_sentences(self, sentences: Sequence[Any]) -> list[float]:
        import numpy as np

        words = [[word.lower() for word in s.words] for s in sentences]
        columns: dict[str, int] = {}
        cells: tuple[list[int], list[int]] = ([], [])
        for row, sentence_words in enumerate(words):
            for word in sentence_words:
                if word not in self._stop_words:
                    cells[0].append(row)
                    cells[1].append(columns.setdefault(self._stemmer(word), len(columns)))
        counts = np.zeros((len(sentences), max(len(columns), 1)))
        np.add.at(counts, cells, 1)
        norms = np.linalg.norm(counts, axis=1, keepdims=True)
        unit = np.divide(counts, norms, out=np.zeros_like(counts), where=norms > 0)
        similarity = unit @ unit.T
        np.fill_diagonal(similarity, 0)
        score = (
            np.log(_pagerank(similarity) * len(sentences))
            + _LENGTH_WEIGHT * np.log1p([len(sentence_words) for sentence_words in words])
            - _QUOTE_PENALTY * np.array([str(s)[0] in _QUOTES for s in sentences])
        )
        return [float(value) for value in score]


@lru_cache(maxsize=1)
def _summarizer_classes() -> dict[str, Any]:
    """Each algorithm's sumy summarizer class, feedwatch's own among them."""
    from sumy.summarizers.kl import KLSummarizer
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.lsa import LsaSummarizer
    from sumy.summarizers.luhn import LuhnSummarizer
    from sumy.summarizers.sum_basic import SumBasicSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer

    class StableLsaSummarizer(LsaSummarizer):  # type: ignore[misc]
        """sumy's LSA, picking the same sentences in every process."""

        def _create_dictionary(self, document: Any) -> dict[str, int]:
            # sumy numbers words in set order, which changes with PYTHONHASHSEED; the SVD's
            # rounding follows the numbering and decides between equally good sentences.
            # Sorting fixes it.
            words = super()._create_dictionary(document)
            return {word: row for row, word in enumerate(sorted(words))}

    return {
        DEFAULT_ALGORITHM: CentralitySummarizer,
        "textrank": TextRankSummarizer,
        "lexrank": LexRankSummarizer,
        "lsa": StableLsaSummarizer,
        "luhn": LuhnSummarizer,
        "kl": KLSummarizer,
        "sumbasic": SumBasicSummarizer,
    }


def _pagerank(similarity: np.ndarray) -> np.ndarray:
    """Each sentence's share of a random walk that follows similarity (PageRank)."""
    import numpy as np

    size = len(similarity)
    totals = similarity.sum(axis=1, keepdims=True)
    # A sentence like no other leads anywhere with equal chance, as in PageRank proper.
    step = np.divide(similarity, totals, out=np.full_like(similarity, 1 / size), where=totals > 0)
    rank = np.full(size, 1 / size)
    for _ in range(_RANK_ITERATIONS):
        following = (1 - _DAMPING) / size + _DAMPING * (step.T @ rank)
        if np.abs(following - rank).sum() < _RANK_TOLERANCE:
            return following
        rank = following
    return rank
