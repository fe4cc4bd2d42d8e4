"""Edit the config file as its author wrote it: comments, order, quoting and indentation kept.

The edited text must load as a valid config before it replaces the file, in one step; any
problem leaves the file as it was.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.tokens import CommentToken
from ruamel.yaml.util import load_yaml_guess_indent

from feedwatch import config, files, urls
from feedwatch.errors import ConfigError
from feedwatch.models import FeedLink

# A key with nothing after it, then (past blank and comment lines) an indented key.
_NESTED_MAPPING = re.compile(
    r"^[^\s#-][^:#\n]*:[ \t]*(?:#.*)?\n(?:[ \t]*(?:#.*)?\n)*( +)[^\s#-]", re.M
)


def add_feeds(path: Path, feeds: Sequence[FeedLink]) -> list[FeedLink]:
    """Append `feeds` to the file's `feeds:` list, but those whose URL is there already (or
    earlier in `feeds`); returns those added. Raises ConfigError, writing nothing, when the file
    is not a valid config before or after."""
    current = config.load(path)
    text = path.read_text(encoding="utf-8")
    known = {_identity(feed.url) for feed in current.feeds}
    added = []
    for feed in feeds:
        if _identity(feed.url) not in known:
            known.add(_identity(feed.url))
            added.append(feed)
    if not added:
        return []
    edited = _append(text, path, added)
    config.parse(edited, path)  # raises ConfigError: the file stays as it was
    try:
        files.replace(path, edited.encode("utf-8"), mode=path.stat().st_mode & 0o7777)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return added


def _identity(url: str) -> str:
    # The same feed spelt differently ("HTTPS://Example.com:443/feed") is the same feed.
    return urls.canonical_url(url) or url.strip()


def _append(text: str, path: Path, feeds: Sequence[FeedLink]) -> str:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the author's long lines
    try:
        # ruamel writes one indentation style; use the one the file is written in.
        _, indent, block_seq_indent = load_yaml_guess_indent(text)
        yaml.indent(
            mapping=_mapping_indent(text), sequence=indent or 2, offset=block_seq_indent or 0
        )
        document = yaml.load(text)
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    listed = document.get("feeds")
    if not isinstance(listed, CommentedSeq):
        raise ConfigError(f"{path}: feeds: expected a list to add to")
    for feed in feeds:
        entry = CommentedMap(url=feed.url)
        if feed.title:
            entry["title"] = feed.title
        if listed:
            _move_trailing_comments(listed[-1], entry)
        listed.append(entry)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _mapping_indent(text: str) -> int:
    """How far the file indents a mapping under a key (ruamel guesses only lists')."""
    match = _NESTED_MAPPING.search(text)
    return len(match.group(1)) if match else 2


def _move_trailing_comments(previous: object, new: CommentedMap) -> None:
    """Comment lines after the list's last item belong to what follows it (e.g. "# shows"
    above `shows:`); ruamel keeps them with that item, so they move to the new last one."""
    if not isinstance(previous, CommentedMap) or not previous:
        return
    comments = previous.ca.items.get(list(previous)[-1])
    if not comments or len(comments) < 3 or not isinstance(comments[2], CommentToken):
        return
    token = comments[2]
    own_line, newline, following = token.value.partition("\n")
    if not following:
        return  # only the item's own end-of-line comment
    if own_line.strip():
        token.value = own_line + newline
    else:
        comments[2] = None
    moved = CommentToken("\n" + following, token.start_mark)
    new.ca.items[list(new)[-1]] = [None, None, moved, None]
