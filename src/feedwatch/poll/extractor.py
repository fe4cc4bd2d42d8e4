"""A web page's main article text, without the page around it.

The only module that imports trafilatura. It works offline on the HTML it is given (it never
downloads anything) and leaves out navigation, sidebars ("Trending", "Related"), share bars,
newsletter prompts, comments and footers.
"""

from __future__ import annotations

import logging

from feedwatch.text import tidy

# trafilatura and the libraries it calls narrate every page they find hard; a page without an
# article is an ordinary outcome here, reported by the caller in one line.
for _name in ("trafilatura", "htmldate", "justext", "courlan"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.CRITICAL)


def extract(html: bytes | str, url: str) -> str | None:
    """The main text of the page `html` fetched from `url`; None when there is none.

    Plain text shaped like text.html_to_text's: one paragraph per block, inner whitespace
    collapsed, paragraphs joined by one blank line. Bytes are decoded as the page declares
    (else as detected). Never raises on bad input.
    """
    # Imported on the first page, not with this module: trafilatura and what it loads take
    # some 30 MB, which a process that never fetches a page (fetch.full_text false, or only
    # feeds carrying whole articles) should not pay for.
    import trafilatura

    try:
        found = trafilatura.extract(
            html,
            url=url,
            output_format="txt",
            # Precision over recall: a teaser is better than a summary drawn from a sidebar.
            favor_precision=True,
            include_comments=False,
            # Table rows come out as "| a | b |" lines, which read badly in a summary.
            include_tables=False,
            include_images=False,
            include_links=False,
            include_formatting=False,
            with_metadata=False,
            # trafilatura's deduplication keeps a process-wide cache of text seen on earlier
            # pages, so the same page could come out differently the second time.
            deduplicate=False,
        )
    except Exception:  # a page that breaks the extractor has no usable text
        return None
    if not found:
        return None
    # trafilatura writes one paragraph per line.
    return tidy(found, lines_are_paragraphs=True) or None
