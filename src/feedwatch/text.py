"""Feed HTML to plain text (what is matched, stored and summarised); the form it is matched in.

One regular expression instead of html.parser: feeds are full of broken markup and this runs
on every entry of every feed, so it has to be both forgiving and fast.
"""

from __future__ import annotations

import html
import re
import unicodedata

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
PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# Everything outside XML 1.0's Char production: C0 controls other than tab, LF and CR, lone
# surrogates, U+FFFE and U+FFFF. PostgreSQL refuses NUL in text, and any of them makes a feed
# unreadable.
_NOT_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]+")


def html_to_text(markup: str) -> str:
    """Plain text of feed HTML (or of plain text): paragraphs joined by one blank line.

    Entities are decoded exactly once; scripts, styles and comments vanish; inside a paragraph
    every whitespace run, non-breaking spaces included, is one space; characters XML forbids
    (NUL, other control characters) are dropped. Never raises.
    """
    # Entities are decoded after the markup is gone, so "&lt;p&gt;" stays text.
    return tidy(html.unescape(_MARKUP.sub(_replace_markup, markup).replace("]]>", "")))


def tidy(text: str, *, lines_are_paragraphs: bool = False) -> str:
    """`text` shaped as feedwatch stores it: paragraphs joined by one blank line, inside each
    every whitespace run one space, without invisible characters or any XML forbids.

    Paragraphs are separated by a blank line, or with `lines_are_paragraphs` by any line break.
    """
    text = xml_safe(text)
    # str.replace is far faster than a regex or str.translate on long non-ASCII text.
    for char in INVISIBLE:
        if char in text:
            text = text.replace(char, "")
    parts = text.splitlines() if lines_are_paragraphs else PARAGRAPH_BREAK.split(text)
    paragraphs = (" ".join(part.split()) for part in parts)
    return "\n\n".join(part for part in paragraphs if part)


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (NUL and the other C0 controls but tab,
    LF and CR; lone surrogates; U+FFFE, U+FFFF). Those that are whitespace (form feed, vertical
    tab, U+001C-U+001F) become a space, so the words either side stay apart."""
    # Every one of them is unprintable, and nearly every text is printable but for its line
    # breaks and tabs: str.isprintable answers that in C, ten times faster than the expression.
    if text.replace("\n", " ").replace("\t", " ").replace("\r", " ").isprintable():
        return text
    return _NOT_XML_CHARS.sub(_xml_replacement, text)


def _xml_replacement(match: re.Match[str]) -> str:
    return " " if any(char.isspace() for char in match.group()) else ""


def _replace_markup(match: re.Match[str]) -> str:
    tag = match.group("tag")
    if tag is None:
        return ""
    tag = tag.lower()
    if tag in _BLOCK_TAGS:
        return "\n\n"
    return " " if tag in _SPACED_TAGS else ""


_APOSTROPHES = "\u2019\u2018\u201a\u201b\u2032\u0060\u00b4\u02bc\u02b9\u2039\u203a\uff07"
_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\uff02"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
# Applied before NFKD, which would turn the acute accent U+00B4 into a space plus a combining
# accent, and "™" into "TM" ("Marvel™" must still match "Marvel").
_TYPOGRAPHY = str.maketrans(
    dict.fromkeys(_APOSTROPHES, "'")
    | dict.fromkeys(_QUOTES, '"')
    | dict.fromkeys(_DASHES, "-")
    | dict.fromkeys("\u2122\u2120", " ")
    | dict.fromkeys(INVISIBLE)
)
# Only these runs need Unicode work; plain ASCII (nearly all of an English article) skips it.
_SPECIAL = re.compile(r"[^\x00-\x5f\x61-\x7f]+")  # non-ASCII, or the backtick


def slug(name: str) -> str:
    """A show's name as one path segment: lower-cased, accents folded, every run of other
    characters one hyphen: "Marvel's Jessica Jones" -> "marvel-s-jessica-jones"."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    ascii_only = "".join(char for char in folded if not unicodedata.combining(char))
    return _NOT_SLUG.sub("-", ascii_only).strip("-") or "show"


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def normalize(text: str) -> str:
    """The form every phrase and every article is compared in.

    Case and accents are ignored, each whitespace run is one space, typographic apostrophes,
    quotes and dashes are the plain ASCII ones.
    """
    # isascii() is a flag CPython keeps on every string; the scan for a backtick is a memchr.
    if not text.isascii() or "`" in text:
        text = _SPECIAL.sub(_fold, text)
    return _one_space(text.casefold())


def _one_space(text: str) -> str:
    """" ".join(text.split()): where the text's only whitespace is spaces and line breaks,
    as nearly all feed text is, by a few passes of str.replace, a third of the time of
    making and joining a string for every word."""
    if text.isascii() and not any(char in text for char in _OTHER_ASCII_SPACES):
        text = text.replace("\n", " ")
        while "  " in text:
            text = text.replace("  ", " ")
        return text.strip(" ")
    return " ".join(text.split())


# What str.split() splits ASCII text at, besides " " and "\n".
_OTHER_ASCII_SPACES = "\t\r\x0b\x0c\x1c\x1d\x1e\x1f"


def _fold(match: re.Match[str]) -> str:
    # Casefold after NFKD, which turns fullwidth capitals into ASCII ones; drop accents last,
    # as casefold can add some ("İ" -> "i" plus a combining dot).
    run = unicodedata.normalize("NFKD", match.group().translate(_TYPOGRAPHY)).casefold()
    if run.isascii():
        return run
    return "".join(char for char in run if not unicodedata.combining(char))


# What a terminal would act on rather than show: whole escape sequences first (CSI such as
# "\x1b[31m"; OSC such as "\x1b]0;title\x07", which sets the window title; DCS, SOS, PM and APC
# strings; two-character escapes), then any other C0 control but tab and newline, DEL, C1
# controls, and lone surrogates, which no terminal encoding can carry. A string sequence left
# unterminated ends at the line's end, so a hostile one cannot swallow the rest of a message.
_TERMINAL_CONTROLS = re.compile(
    r"""
    (?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?
    | \x1b[\x20-\x2f]*[\x30-\x7e]?
    | [\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]
    """,
    re.VERBOSE,
)


def printable(text: str) -> str:
    """`text` safe to show on a terminal: without control characters or escape sequences.

    For anything that came from the network (an HTTP reason phrase, a Location, a feed's
    title) on its way to a stored error, a log line or a table; tab and newline are kept.
    """
    return _TERMINAL_CONTROLS.sub("", text)
