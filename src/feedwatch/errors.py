"""Every error feedwatch raises on purpose.

FeedwatchError
 +-- ConfigError            the config file is missing, malformed or has bad values (exit 2)
 +-- FetchError             one feed or page could not be fetched
 |    +-- NetworkError      DNS, connect, TLS, timeout, connection reset
 |    +-- HTTPStatusError   the server answered with an error status (4xx/5xx)
 |    +-- TooLargeError     the decoded body went past the configured byte cap
 |    +-- BlockedAddressError  a page's host is not public (see poll/netguard.py)
 +-- AbandonedError         a fetch cut short because feedwatch is stopping: recorded nowhere
 +-- ParseError             the body is not a feed feedparser can read
 +-- StoreError             the database cannot be opened, migrated or written
 +-- SummaryError           the text could not be summarised (e.g. not text at all)
 +-- DigestError            the digest file could not be written
 +-- StoryError             input story clustering cannot use: a line of `feedwatch stories`
                            that is not an article (exit 2), a window that is not positive
 +-- SubscriptionError      feeds to add cannot be used: a broken OPML file, a URL that is
                            neither a feed nor a page advertising one (exit 2)

A per-feed error (FetchError, ParseError) is recorded against that feed and the cycle goes
on; a page's FetchError is recorded against its article, which keeps the feed's own text.
Anything else stops the command with a one-line message.
"""

from __future__ import annotations

from datetime import datetime


class FeedwatchError(Exception):
    """Base of every error feedwatch raises on purpose."""


class ConfigError(FeedwatchError):
    """The configuration cannot be used. The message names the file, line and key."""


class FetchError(FeedwatchError):
    """A feed or page could not be fetched."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class NetworkError(FetchError):
    """No usable HTTP response: DNS, connect, TLS, timeout or a dropped connection."""


class HTTPStatusError(FetchError):
    """The server answered with a status feedwatch treats as a failure."""

    def __init__(
        self, message: str, url: str, status: int, retry_after: datetime | None = None
    ) -> None:
        super().__init__(message, url)
        self.status = status
        # When the response's Retry-After says to come back (UTC); None without one.
        self.retry_after = retry_after


class TooLargeError(FetchError):
    """The decoded body went past the byte cap; reading stopped there."""


class BlockedAddressError(FetchError):
    """A page fetch was refused before connecting: its host resolves to a non-public address."""


class AbandonedError(FeedwatchError):
    """A fetch cut short by closing the fetcher at shutdown. It says nothing about the feed
    or page, so nothing is recorded: the feed is polled again at the next start."""

    def __init__(self, url: str) -> None:
        super().__init__(f"{url}: abandoned, feedwatch is stopping")
        self.url = url


class ParseError(FeedwatchError):
    """The body could not be read as a feed."""


class StoreError(FeedwatchError):
    """The database cannot be opened, migrated or written."""


class SummaryError(FeedwatchError):
    """The input could not be summarised."""


class StoryError(FeedwatchError):
    """Input story clustering cannot use: a line of `feedwatch stories` that is not an
    article, a window that is not positive."""


class DigestError(FeedwatchError):
    """The digest feed could not be written."""


class SubscriptionError(FeedwatchError):
    """Feeds given to `import` or `add` cannot be added; nothing was written."""
