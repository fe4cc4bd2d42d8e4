"""Matcher: which tracked shows an article is about."""

# These tests are about look-alike characters (typographic apostrophes, fullwidth letters).

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedwatch.config import ShowSettings
from feedwatch.matcher import Explanation, Matcher, Verdict
from feedwatch.models import Article, ShowMatch
from feedwatch.text import html_to_text, normalize

# The shows of the shipped config/feeds.yaml.
JESSICA_JONES = ShowSettings(
    name="Jessica Jones", keywords=("Jessica Jones", "Marvel's Jessica Jones")
)
DAREDEVIL = ShowSettings(
    name="Daredevil",
    keywords=("Daredevil", "Daredevil: Born Again", "Matt Murdock"),
    exclude=("Daredevil (2003)",),
)
LUKE_CAGE = ShowSettings(name="Luke Cage", keywords=("Luke Cage", "Marvel's Luke Cage"))
IRON_FIST = ShowSettings(
    name="Iron Fist",
    keywords=("Iron Fist",),
    require_any=("Marvel", "Netflix", "Danny Rand", "Finn Jones", "Colleen Wing", "Defenders"),
)
THE_DEFENDERS = ShowSettings(
    name="The Defenders",
    keywords=("The Defenders", "Marvel's The Defenders", "Defenders Saga"),
    require_any=("Marvel", "Netflix", "Jessica Jones", "Luke Cage", "Daredevil", "Iron Fist"),
)
SHOWS = (JESSICA_JONES, DAREDEVIL, LUKE_CAGE, IRON_FIST, THE_DEFENDERS)


def article(title: str = "", summary: str = "", body: str = "") -> Article:
    return Article(
        entry_id="test-1", url=None, title=title, summary=summary, body=body, published=None
    )


def html_article(title: str = "", summary_html: str = "", body_html: str = "") -> Article:
    """An article built the way the pipeline builds one from a feed entry."""
    return article(html_to_text(title), html_to_text(summary_html), html_to_text(body_html))


def names(matcher: Matcher, article: Article) -> tuple[str, ...]:
    return tuple(match.show for match in matcher.match(article))


def shows_in(text: str, shows: tuple[ShowSettings, ...] = SHOWS) -> tuple[str, ...]:
    return names(Matcher(shows), article(body=text))


@pytest.mark.parametrize(
    "text", ["DAREDEVIL returns", "daredevil returns", "DareDevil returns", "Matt MURDOCK is back"]
)
def test_case_is_ignored(text):
    assert shows_in(text) == ("Daredevil",)


def test_accents_are_ignored_both_ways():
    pokemon = ShowSettings(name="Pokémon", keywords=("Pokémon",))
    plain = ShowSettings(name="Luke Cage", keywords=("Luke Cage",))
    assert shows_in("POKEMON Horizons gets a third season", (pokemon,)) == ("Pokémon",)
    assert shows_in("Pokémon Horizons", (pokemon,)) == ("Pokémon",)
    # The same letter written as "e" plus a combining accent.
    assert shows_in("Poke\u0301mon Horizons", (pokemon,)) == ("Pokémon",)
    assert shows_in("Lüke Cagé, a parody", (plain,)) == ("Luke Cage",)


@pytest.mark.parametrize(
    "text",
    [
        "Krysten Ritter is Jessica\u00a0Jones",
        "Krysten Ritter is Jessica\u2009Jones",
        "Krysten Ritter is Jessica\u202fJones",
        "Krysten Ritter is Jessica \n\t Jones",
        "Krysten Ritter is Jessica\n\nJones",
    ],
)
def test_any_whitespace_run_is_one_space(text):
    assert shows_in(text) == ("Jessica Jones",)


def test_whitespace_inside_a_keyword_is_one_space_too():
    spaced = ShowSettings(name="Luke Cage", keywords=("Luke   Cage",))
    assert shows_in("Luke Cage is bulletproof", (spaced,)) == ("Luke Cage",)


@pytest.mark.parametrize("apostrophe", ["'", "\u2019", "\u2018", "\u02bc", "`", "\u00b4", "\u2032"])
def test_typographic_apostrophes_equal_the_plain_one(apostrophe):
    # Only the keyword with an apostrophe, so "Jessica Jones" alone cannot be what matched.
    marvels = ShowSettings(name="Jessica Jones", keywords=("Marvel's Jessica Jones",))
    text = f"Marvel{apostrophe}s Jessica Jones leaves the service"
    assert shows_in(text, (marvels,)) == ("Jessica Jones",)


def test_a_keyword_written_with_a_typographic_apostrophe_matches_a_plain_one():
    marvels = ShowSettings(name="Jessica Jones", keywords=("Marvel’s Jessica Jones",))
    assert shows_in("Marvel's Jessica Jones leaves", (marvels,)) == ("Jessica Jones",)


@pytest.mark.parametrize(
    "quoted",
    [
        'Luke "Power Man" Cage',
        "Luke “Power Man” Cage",
        "Luke „Power Man“ Cage",
        "Luke «Power Man» Cage",
    ],
)
def test_typographic_quotes_equal_the_plain_one(quoted):
    nickname = ShowSettings(name="Luke Cage", keywords=('Luke "Power Man" Cage',))
    assert shows_in(f"Mike Colter as {quoted}", (nickname,)) == ("Luke Cage",)


@pytest.mark.parametrize("dash", ["-", "\u2010", "\u2011", "\u2013", "\u2014"])
def test_dashes_equal_the_hyphen(dash):
    emergency = ShowSettings(name="9-1-1", keywords=("9-1-1",))
    assert shows_in(f"9{dash}1{dash}1: Lone Star is back", (emergency,)) == ("9-1-1",)


@pytest.mark.parametrize(
    "text",
    [
        "Meet the daredevils behind the fights",
        "A superdaredevil stunt",
        "The Daredevilish grin",
        "daredevil_fan posted a clip",
        "Daredevil2 is a username",
    ],
)
def test_keywords_match_whole_words_only(text):
    assert shows_in(text) == ()


@pytest.mark.parametrize(
    ("text", "show"),
    [
        ("Daredevil's long feud with Wilson Fisk", "Daredevil"),
        ("Daredevil’s long feud with Wilson Fisk", "Daredevil"),
        ("Luke Cage's diner", "Luke Cage"),
        ("Jessica Jones' leather jacket", "Jessica Jones"),
        ("Jessica Jones’ leather jacket", "Jessica Jones"),
        ("the man who played Daredevil.", "Daredevil"),
        ("(Daredevil)", "Daredevil"),
        ("#Daredevil trends again", "Daredevil"),
    ],
)
def test_possessives_and_punctuation_around_a_keyword_still_match(text, show):
    assert shows_in(text) == (show,)


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("M*A*S*H", "The M*A*S*H cast reunites", True),
        ("M*A*S*H", "(M*A*S*H) reunion", True),
        ("M*A*S*H", "XM*A*S*H", False),
        ("9-1-1", "9-1-1: Lone Star ends", True),
        ("9-1-1", "Call 19-1-1 now", False),
        ("Grey's Anatomy", "Grey’s Anatomy renewed", True),
        ("Grey's Anatomy", "Grey's Anatomy's 21st season", True),
        ("Grey's Anatomy", "Grey's Anatomyst", False),
        ("Agents of S.H.I.E.L.D.", "Reunited: the cast of Agents of S.H.I.E.L.D.", True),
        ("Agents of S.H.I.E.L.D.", "Agents of S.H.I.E.L.D.'s finale", True),
        ("Marvel's Jessica Jones", "Marvel’s Jessica Jones", True),
        ("Marvel's Jessica Jones", "Marvel’s Jessica Joneses", False),
    ],
)
def test_keywords_that_start_or_end_with_punctuation(keyword, text, expected):
    show = ShowSettings(name="show", keywords=(keyword,))
    assert shows_in(text, (show,)) == (("show",) if expected else ())


@pytest.mark.parametrize(
    ("title", "summary_html", "body_html", "expected"),
    [
        ("", "<p>Mike Colter is <em>Luke</em> Cage</p>", "", ("Luke Cage",)),
        ("", "", "<a href='/jj'>Jessica</a>&nbsp;<strong>Jones</strong>", ("Jessica Jones",)),
        ("Marvel&rsquo;s <i>Jessica Jones</i>", "", "", ("Jessica Jones",)),
        ("", "Dare<span>devil</span>&#8217;s feud", "", ("Daredevil",)),
        ("", "", "<p>Dare&shy;devil</p>", ("Daredevil",)),
        # Markup never creates a match either: scripts and comments are not text.
        ("", "<script>var show = 'Daredevil';</script><!-- Luke Cage -->News", "", ()),
        ("", "<b>Dare</b>devils on set", "", ()),
    ],
)
def test_markup_never_hides_or_fakes_a_match(title, summary_html, body_html, expected):
    matched = names(Matcher(SHOWS), html_article(title, summary_html, body_html))
    assert matched == expected


def test_an_exclude_phrase_stops_the_show():
    matcher = Matcher(SHOWS)
    film = article("Daredevil (2003) turns twenty", body="Ben Affleck starred as Daredevil.")
    assert names(matcher, film) == ()
    assert names(matcher, article("Daredevil: Born Again returns")) == ("Daredevil",)


def test_an_exclude_phrase_in_another_field_still_stops_the_show():
    matcher = Matcher(SHOWS)
    assert names(matcher, article("Daredevil retrospective", body="DAREDEVIL (2003) first.")) == ()


def test_an_exclude_phrase_stops_only_its_own_show():
    text = "Daredevil (2003) and Luke Cage"
    assert shows_in(text) == ("Luke Cage",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The new dean rules the writers' room with an iron fist.", ()),
        ("She rules with an iron fist, a marvelous performance.", ()),
        ("Finn Jones on whether Iron Fist could return", ("Iron Fist",)),
        ("Iron Fist was cancelled by Netflix", ("Iron Fist",)),
        ("Danny Rand, the Iron Fist, returns", ("Iron Fist",)),
    ],
)
def test_require_any_asks_for_context(text, expected):
    assert shows_in(text) == expected


def test_require_any_can_be_met_in_another_field():
    matched = names(Matcher(SHOWS), article("Iron Fist returns", body="A Marvel series."))
    assert matched == ("Iron Fist",)


def test_require_any_alone_does_not_match():
    assert shows_in("Marvel and Netflix sign a new deal") == ()


def test_names_come_back_in_config_order_once_each():
    text = (
        "The Defenders reunion: Daredevil, Jessica Jones, Luke Cage and Iron Fist. "
        "Marvel's The Defenders, Marvel's Jessica Jones, Matt Murdock."
    )
    assert shows_in(text) == (
        "Jessica Jones",
        "Daredevil",
        "Luke Cage",
        "Iron Fist",
        "The Defenders",
    )
    assert shows_in(text, SHOWS[::-1]) == (
        "The Defenders",
        "Iron Fist",
        "Luke Cage",
        "Daredevil",
        "Jessica Jones",
    )


@pytest.mark.parametrize("field", ["title", "summary", "body"])
def test_title_summary_and_body_are_each_searched(field):
    matched = names(Matcher(SHOWS), article(**{field: "Mike Colter is Luke Cage"}))
    assert matched == ("Luke Cage",)


@pytest.mark.parametrize(
    ("title", "summary", "body"),
    [
        ("Mike Colter is Luke", "Cage fighting returns to TV", ""),
        ("", "Mike Colter is Luke", "Cage fighting returns to TV"),
        ("A profile of Jessica", "", "Jones, the new producer"),
    ],
)
def test_no_match_across_fields(title, summary, body):
    assert names(Matcher(SHOWS), article(title, summary, body)) == ()


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("STRASSE", "Straße"),
        ("Pokémon", "pokemon"),
        ("Ｌｕｋｅ Ｃａｇｅ", "luke cage"),
        ("İstanbul", "istanbul"),
        ("  Jessica\u00a0\u2009Jones\n", "jessica jones"),
        ("Marvel’s “Jessica Jones” – «Defenders»", 'marvel\'s "jessica jones" - "defenders"'),
        ("Marvel™ Studios", "marvel studios"),
        ("ﬁnale", "finale"),
    ],
)
def test_normalize_gives_one_comparison_form(one, other):
    assert normalize(one) == normalize(other)


@given(st.text(alphabet="aB \n\t\r\x0b\x0c\x1c\x1f\x85\xa0\u2003\u2028`é", max_size=30))
def test_normalize_makes_each_whitespace_run_one_space_as_split_does(text):
    folded = normalize(text)
    assert folded == " ".join(folded.split())
    assert normalize(text.replace("\n", "\t")) == folded  # the fast path and the other agree


def test_each_match_names_the_configured_phrase_found_first() -> None:
    shows = (
        ShowSettings(name="Jessica Jones", keywords=("Jessica Jones", "Marvel's Jessica Jones")),
        ShowSettings(name="Daredevil", keywords=("Daredevil",)),
    )
    matches = Matcher(shows).match(article("MARVEL’S JESSICA JONES is back", body="Daredevil too"))
    assert matches == (
        ShowMatch("Jessica Jones", "Marvel's Jessica Jones"),
        ShowMatch("Daredevil", "Daredevil"),
    )


def test_tags_are_matched_like_the_text() -> None:
    tagged = replace(article("Season two trailer"), tags=("Daredevil",))
    assert names(Matcher(SHOWS), tagged) == ("Daredevil",)


# --- explanations -------------------------------------------------------------------------


def explained(text: str, shows: tuple[ShowSettings, ...] = SHOWS) -> dict[str, Explanation]:
    return {each.show: each for each in Matcher(shows).explain(article(body=text))}


def test_an_explanation_names_the_keyword_that_matched() -> None:
    found = explained("Matt Murdock is back in Hell's Kitchen")["Daredevil"]
    assert found == Explanation("Daredevil", Verdict.MATCHED, "Matt Murdock")
    assert found.matched


def test_an_explanation_names_the_exclude_phrase_that_vetoed() -> None:
    assert explained("Ben Affleck in Daredevil (2003)")["Daredevil"] == Explanation(
        "Daredevil", Verdict.EXCLUDED, "Daredevil", ("Daredevil (2003)",)
    )


def test_missing_context_lists_every_require_any_phrase_as_configured() -> None:
    assert explained("She rules with an iron fist")["Iron Fist"] == Explanation(
        "Iron Fist", Verdict.NO_CONTEXT, "Iron Fist", IRON_FIST.require_any
    )


def test_context_found_is_named_with_the_match() -> None:
    assert explained("Finn Jones on Iron Fist")["Iron Fist"] == Explanation(
        "Iron Fist", Verdict.MATCHED, "Iron Fist", ("Finn Jones",)
    )


def test_no_keyword_is_said_even_when_context_is_present() -> None:
    assert explained("Marvel and Netflix sign a deal")["Iron Fist"] == Explanation(
        "Iron Fist", Verdict.NO_KEYWORD
    )


def test_every_show_is_explained_in_config_order() -> None:
    shows = Matcher(SHOWS[::-1]).explain(article(body="Luke Cage"))
    assert [each.show for each in shows] == [show.name for show in SHOWS[::-1]]


@pytest.mark.parametrize(
    ("title", "body"),
    [
        ("", "Daredevil (2003) and Luke Cage"),
        ("Iron Fist returns", "A Marvel series."),
        ("", "The new dean rules with an iron fist."),
        ("Mike Colter is Luke", "Cage fighting returns"),
        ("MARVEL’S JESSICA JONES is back", "Daredevil too"),
        ("The Defenders reunion", "Marvel, Netflix, Matt Murdock, Danny Rand"),
        ("Daredevil retrospective", "DAREDEVIL (2003) first."),
        ("The Defenders of the realm", "a fantasy epic"),
        ("", "Dare&shy;devils on set"),
        ("", ""),
    ],
)
def test_explanations_agree_with_match(title, body) -> None:
    matcher = Matcher(SHOWS)
    case = html_article(title, "", body)
    said = tuple(
        ShowMatch(each.show, each.keyword) for each in matcher.explain(case) if each.matched
    )
    assert said == matcher.match(case)
