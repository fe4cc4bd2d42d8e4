"""Where phrases occur in a text, compared as the matcher compares them, for <mark>ing them.

The matcher works on text.normalize's form (case, accents, whitespace and typography folded);
these functions find a phrase in that form and map what they found back to the original
characters, so what is marked is exactly the reader's text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from feedwatch.text import normalize

# Characters normalize turns into a space between words (then dropped at a word's edge).
_SPACING = "\u2122\u2120"
Piece = tuple[str, bool]  # a run of the text, and whether it is an occurrence of a phrase


def _folded(text: str) -> tuple[str, list[int]]:
    """normalize(text) and, for each of its characters, the index in `text` it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        form = normalize(char)
        if not form and (char.isspace() or char in _SPACING):
            form = " "
        if form == " " and (not chars or chars[-1] == " "):
            continue
        chars.extend(form)
        origin.extend([index] * len(form))
    return "".join(chars), origin


def spans(text: str, phrases: Sequence[str]) -> list[tuple[int, int]]:
    """(start, end) in `text` of each whole-word occurrence of any of `phrases`, in order,
    overlapping ones merged."""
    folded, origin = _folded(text)
    found: list[tuple[int, int]] = []
    for phrase in dict.fromkeys(normalize(phrase) for phrase in phrases):
        if not phrase:
            continue
        for hit in re.finditer(rf"(?<!\w){re.escape(phrase)}(?!\w)", folded):
            found.append((origin[hit.start()], origin[hit.end() - 1] + 1))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def pieces(text: str, phrases: Sequence[str]) -> list[Piece]:
    """`text` cut into runs, each True when it is an occurrence of one of `phrases`."""
    cut: list[Piece] = []
    at = 0
    for start, end in spans(text, phrases):
        if start > at:
            cut.append((text[at:start], False))
        cut.append((text[start:end], True))
        at = end
    if at < len(text) or not cut:
        cut.append((text[at:], False))
    return cut


def excerpt(text: str, phrases: Sequence[str], width: int = 280) -> str:
    """About `width` characters of `text` around the first occurrence of any of `phrases`
    (its opening when none occurs), cut at spaces, "…" marking what was left out."""
    if len(text) <= width:
        return text
    found = spans(text, phrases)
    start = max(0, found[0][0] - width // 3) if found else 0
    end = min(len(text), start + width)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < end else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    return ("…" if start > 0 else "") + text[start:end].strip() + ("…" if end < len(text) else "")
