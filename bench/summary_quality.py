"""How good are feedwatch's summaries? ROUGE F1 against the BBC News Summary references.

    .venv/bin/python bench/summary_quality.py [--categories entertainment ...] [--limit N]
                                              [--sentences 3] [--jobs N] [--corpus PATH]
                                              [--huge MB]

Reads ../shared/corpus/bbc-news-summary/ (beside the repository; see its PROVENANCE.md) and prints,
per category, for the training categories together and overall: ROUGE-1/2/L F1 x100 (rouge-score,
Porter stemming) of
  - feedwatch: the default, feedwatch's own sumy summarizer, by the code path of
    `feedwatch summarize FILE` (the texts are English);
  - lead-N: the article's first N sentences;
  - each of sumy's six stock summarizers, by the same path (same document, same cleaning);
  - oracle: N sentences picked greedily for ROUGE-2 F1 against the reference: the ceiling;
and how many articles a second each method handles on one core; last, what the default spends
on one text of --huge MB (12: the size of a runaway feed description seen in the wild).

Each article file is line 1 the headline, a blank line, then the body. The summarisers are given
the whole file, as `feedwatch summarize` is: the headline is a line without an end mark standing
alone, which cleaning never returns (16 headlines that end in "?" are candidates like any
sentence). Lead-N and the oracle take the body's sentences, so the headline is not one of them.
feedwatch's weights were tuned on business, politics, sport and tech; entertainment is the
held-out test. The reference summaries run sentences together without a space ("bulbs.A");
rouge-score's tokenizer splits on punctuation, so that needs no repair.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from feedwatch.summariser import ALGORITHMS, DEFAULT_ALGORITHM, Summariser, split_sentences

try:
    from rouge_score import rouge_scorer, tokenizers
except ImportError:  # not a dependency of feedwatch itself
    sys.exit("bench/summary_quality.py needs rouge-score: pip install -e '.[bench]'")

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bbc-news-summary"
CATEGORIES = ("business", "entertainment", "politics", "sport", "tech")
TRAINING = ("business", "politics", "sport", "tech")
METRICS = ("rouge1", "rouge2", "rougeL")
FEEDWATCH = "feedwatch"
ORACLE = "oracle"


@dataclass(frozen=True, slots=True)
class Article:
    category: str
    text: str  # the whole file: headline, blank line, body
    reference: str

    @property
    def body(self) -> str:
        return self.text.partition("\n")[2]


@dataclass(frozen=True, slots=True)
class Result:
    category: str
    method: str
    scores: tuple[float, ...]  # F1 for each of METRICS
    seconds: float


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    if not (args.corpus / "articles").is_dir():
        print(f"no corpus at {args.corpus}: nothing to measure", file=sys.stderr)
        return 0
    articles = list(_articles(args.corpus, args.categories, args.limit))
    if not articles:
        print(f"no articles for {', '.join(args.categories)} in {args.corpus}", file=sys.stderr)
        return 0
    started = time.perf_counter()
    # Articles are dealt round-robin so each process gets a share of every category.
    shares = [(articles[start :: args.jobs], args.sentences) for start in range(args.jobs)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = [result for share in pool.map(_measure, shares) for result in share]
    _report(results, methods(args.sentences), args.sentences)
    elapsed = time.perf_counter() - started
    print(f"\n{len(articles)} articles in {elapsed:.0f} s (wall clock) with --jobs {args.jobs}")
    if args.huge:
        _report_huge(articles, args.huge, args.sentences)
    return 0


def _report_huge(articles: Sequence[Article], megabytes: int, sentences: int) -> None:
    """CPU time of the default on one text of `megabytes` MB (the articles over and over),
    beside the mean time of one article: what a runaway feed description costs."""
    summariser = Summariser()
    summariser.summarise(articles[0].text, sentences)  # loads the libraries: not the text's cost
    started = time.process_time()
    for article in articles:
        summariser.summarise(article.text, sentences)
    one = (time.process_time() - started) / len(articles)
    bodies = "\n\n".join(article.text for article in articles)
    huge = (bodies * (megabytes * 1_000_000 // len(bodies) + 1))[: megabytes * 1_000_000]
    started = time.process_time()
    summariser.summarise(huge, sentences)
    seconds = time.process_time() - started
    print(
        f"one text of {megabytes} MB: {seconds:.2f} s of CPU, {seconds / one:.0f} times one "
        f"article ({1000 * one:.1f} ms)"
    )


def methods(sentences: int) -> list[str]:
    """Column order: feedwatch, the baseline, sumy's algorithms, the ceiling."""
    stock = [name for name in ALGORITHMS if name != DEFAULT_ALGORITHM]
    return [FEEDWATCH, f"lead-{sentences}", *stock, ORACLE]


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--categories", nargs="+", choices=CATEGORIES, default=list(CATEGORIES))
    parser.add_argument("--limit", type=int, default=None, help="articles per category")
    parser.add_argument("--sentences", type=int, default=3, help="sentences per summary")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--huge", type=int, default=12, metavar="MB", help="size of the one huge text; 0: none"
    )
    args = parser.parse_args(argv)
    if args.sentences < 1 or args.jobs < 1 or (args.limit is not None and args.limit < 1):
        parser.error("--sentences, --jobs and --limit must be at least 1")
    return args


def _articles(corpus: Path, categories: Sequence[str], limit: int | None) -> Iterator[Article]:
    for category in categories:
        paths = sorted((corpus / "articles" / category).glob("*.txt"))[:limit]
        for path in paths:
            reference = corpus / "summaries" / category / path.name
            yield Article(
                category,
                # One article (sport/199.txt) has a byte that is not UTF-8.
                path.read_text(encoding="utf-8", errors="replace"),
                reference.read_text(encoding="utf-8", errors="replace"),
            )


def _measure(share: tuple[list[Article], int]) -> list[Result]:
    articles, sentences = share
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    tokenizer = tokenizers.DefaultTokenizer(use_stemmer=True)
    summarisers = {FEEDWATCH: Summariser()}
    summarisers |= {name: Summariser(name) for name in ALGORITHMS if name != DEFAULT_ALGORITHM}
    pickers: dict[str, Callable[[Article], Sequence[str]]] = {
        name: (lambda article, s=summariser: s.summarise(article.text, sentences))
        for name, summariser in summarisers.items()
    }
    pickers[f"lead-{sentences}"] = lambda article: split_sentences(article.body)[:sentences]
    pickers[ORACLE] = lambda article: _oracle(article, sentences, tokenizer)
    results = []
    for article in articles:
        for method in methods(sentences):
            # CPU time of this process: what one core spends, whatever else the machine runs.
            started = time.process_time()
            summary = pickers[method](article)
            seconds = time.process_time() - started
            scores = scorer.score(article.reference, " ".join(summary))
            f1 = tuple(scores[metric].fmeasure for metric in METRICS)
            results.append(Result(article.category, method, f1, seconds))
    return results


def _oracle(article: Article, count: int, tokenizer: tokenizers.Tokenizer) -> list[str]:
    """The `count` sentences that, added one at a time, raise ROUGE-2 F1 the most."""
    sentences = split_sentences(article.body)
    tokens = [tokenizer.tokenize(sentence) for sentence in sentences]
    reference = _bigrams(tokenizer.tokenize(article.reference))
    chosen: list[int] = []
    for _ in range(min(count, len(sentences))):

        def gain(index: int) -> float:
            picked = sorted([*chosen, index])
            return _f1(_bigrams([token for i in picked for token in tokens[i]]), reference)

        # Ties go to the earlier sentence.
        best = max((i for i in range(len(sentences)) if i not in chosen), key=gain)
        chosen.append(best)
    return [sentences[i] for i in sorted(chosen)]


def _bigrams(tokens: Sequence[str]) -> Counter[tuple[str, str]]:
    return Counter(pairwise(tokens))


def _f1(candidate: Counter[tuple[str, str]], reference: Counter[tuple[str, str]]) -> float:
    overlap = sum((candidate & reference).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(candidate.values())
    recall = overlap / sum(reference.values())
    return 2 * precision * recall / (precision + recall)


def _report(results: list[Result], order: list[str], sentences: int) -> None:
    by_group: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        by_group[result.category].append(result)
    groups = [(category, by_group[category]) for category in CATEGORIES if category in by_group]
    trained = [category for category in TRAINING if category in by_group]
    training = [result for category in trained for result in by_group[category]]
    if len(groups) > 1:
        if len(trained) > 1 and len(training) < len(results):
            groups.append((f"training ({', '.join(trained)})", training))
        groups.append(("overall", results))
    print(f"ROUGE F1 x100 at {sentences} sentences, against the reference summaries")
    for label, group in groups:
        held_out = " (held out)" if label == "entertainment" else ""
        speed = label == "overall" or len(groups) == 1
        print(f"\n{label}{held_out}: {len(group) // len(order)} articles\n")
        head, rule = "| method | ROUGE-1 | ROUGE-2 | ROUGE-L |", "|---|---:|---:|---:|"
        print(head + " articles/s (1 core) |" if speed else head)
        print(rule + "---:|" if speed else rule)
        for method in order:
            mine = [result for result in group if result.method == method]
            means = [100 * sum(r.scores[i] for r in mine) / len(mine) for i in range(len(METRICS))]
            cells = [method, *(f"{mean:.1f}" for mean in means)]
            if speed:
                cells.append(f"{len(mine) / sum(r.seconds for r in mine):,.0f}")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
