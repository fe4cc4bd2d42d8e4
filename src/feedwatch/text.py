"""Feed HTML to plain text: what is matched, stored and summarised.

One regular expression instead of html.parser: feeds are full of broken markup and this runs
on every entry of every feed, so it has to be both forgiving and fast.
"""

from __future__ import annotations

import html
import re

# Elements whose start or end begins a new paragraph.
# fmt: off
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details",
    "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hgroup", "hr", "html", "li", "main",
    "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "title",
    "tr", "ul",
})
# fmt: on
# Table cells sit side by side: "<td>a</td><td>b</td>" reads "a b", not "ab".
_SPACED_TAGS = frozenset({"td", "th"})

# Characters that render as nothing: soft hyphen, zero-width space, word joiner, BOM. Dropped so
# that "Dare\u00addevil" reads (and matches) as "Daredevil".
INVISIBLE = "\u00ad\u200b\u2060\ufeff"

# Attributes may quote ">" and need not be closed at all; a tag cut off by the end of the input is
# dropped, as browsers do. Every alternative can always finish, so there is no backtracking blow-up.
_ATTRIBUTES = r"""(?:[^>=]+|=\s*(?:"[^"]*"|'[^']*')|=)*(?:>|\Z)"""
_MARKUP = re.compile(
    rf"""
    <!--.*?(?:--!?>|\Z)                                         # comment
    | <(?P<raw>script|style|noscript|template)(?=[\s/>]|\Z){_ATTRIBUTES}
      .*?(?:</(?P=raw)[^>]*>|\Z)                                # element whose content is no text
    | <!\[CDATA\[               # left over from double-wrapped feed content; its "]]>" goes too
    | </?(?P<tag>[a-zA-Z][^\s/>]*){_ATTRIBUTES}                 # start or end tag
    | <[!?][^>]*(?:>|\Z)                                        # doctype, processing instruction
    """,
    re.DOTALL | re.IGNORECASE | re.VERBOSE,
)
# A whitespace run holding a blank line separates paragraphs; so do block tags (which emit one).
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")


def html_to_text(markup: str) -> str:
    """Plain text of feed HTML (or of plain text): paragraphs joined by one blank line.

    Entities are decoded exactly once; scripts, styles and comments vanish; inside a paragraph
    every whitespace run, non-breaking spaces included, is one space. Never raises.
    """
    # Entities are decoded after the markup is gone, so "&lt;p&gt;" stays text.
    text = html.unescape(_MARKUP.sub(_replace_markup, markup).replace("]]>", ""))
    # str.replace is far faster than a regex or str.translate on long non-ASCII text.
    for char in INVISIBLE:
        if char in text:
            text = text.replace(char, "")
    paragraphs = (" ".join(part.split()) for part in _PARAGRAPH_BREAK.split(text))
    return "\n\n".join(part for part in paragraphs if part)


def _replace_markup(match: re.Match[str]) -> str:
    tag = match.group("tag")
    if tag is None:
        return ""
    tag = tag.lower()
    if tag in _BLOCK_TAGS:
        return "\n\n"
    return " " if tag in _SPACED_TAGS else ""
