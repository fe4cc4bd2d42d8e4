"""Store.search: the database's own full-text search over the matched articles, on SQLite and,
when it answers on 127.0.0.1:5432, PostgreSQL; and migration 0007 on a database with data."""

# The store's fixtures are imported from test_store, and pytest passes them by name.
# ruff: noqa: F811

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, column, insert, table

from feedwatch.store import Store
from feedwatch.store.schema import UTCDateTime
from test_store import (  # noqa: F401
    MIGRATIONS,
    NOW,
    TVWIRE,
    article,
    database_url,
    engine,
    matched,
    new_database,
    open_store,
    postgres,
    save_poll,
    store,
)


def save(store: Store, entry_id: str, title: str, body: str, *shows: str, hours: int = 0) -> None:
    story = article(
        entry_id,
        f"https://tvwire.example/{entry_id}",
        title=title,
        body=body,
        published=NOW - timedelta(hours=hours),
    )
    save_poll(store, TVWIRE, [(story, matched(*shows))], at=NOW)


def titles(store: Store, query: str, limit: int = 10) -> list[str]:
    return [hit.article.title for hit in store.search(query, limit)]


def test_search_finds_matched_articles_best_first(store: Store) -> None:
    save(store, "a", "Daredevil returns", "Charlie Cox is back as Daredevil.", "Daredevil")
    save(store, "b", "Streaming news", "A line about Daredevil near the end.", "Daredevil")
    save(store, "c", "Daredevil daredevil", "Unmatched, so never found.")
    assert titles(store, "daredevil") == ["Daredevil returns", "Streaming news"]
    [hit] = store.search("charlie cox", 10)
    assert hit.article.matches[0].show == "Daredevil"
    assert hit.article.feed_title == "TV Wire"
    assert "Charlie Cox is back" in hit.text


def test_every_word_must_be_there_and_limit_keeps_the_best(store: Store) -> None:
    save(store, "a", "Luke Cage", "Harlem's hero.", "Luke Cage")
    save(store, "b", "Luke Cage season two", "Harlem again, Luke Cage again.", "Luke Cage")
    assert titles(store, "harlem hero") == ["Luke Cage"]
    assert len(store.search("luke cage", 1)) == 1
    assert titles(store, "harlem nowhere") == []


@pytest.mark.parametrize(
    "query",
    ['"', "'", "AND", "NOT daredevil", "dare*", "title:daredevil", "(", "a OR", "--", ";", "\0"],
)
def test_any_text_is_a_query_and_never_an_error(store: Store, query: str) -> None:
    save(store, "a", "Daredevil returns", "Born again.", "Daredevil")
    hits = store.search(query, 10)
    # Operators are plain words: "NOT daredevil" looks for both words, not for their absence.
    assert all(hit.article.title == "Daredevil returns" for hit in hits)
    assert titles(store, "blank") == []


def test_only_punctuation_or_nothing_finds_nothing(store: Store) -> None:
    save(store, "a", "Daredevil returns", "Born again.", "Daredevil")
    assert store.search("", 10) == []
    assert store.search("  !?  ", 10) == []


def test_an_edited_or_deleted_article_is_searched_as_it_is_now(store: Store) -> None:
    save(store, "a", "Iron Fist", "Danny Rand trains in K'un-Lun.", "Iron Fist")
    assert titles(store, "rand") == ["Iron Fist"]
    save(store, "a", "Iron Fist", "Colleen Wing takes the fist.", "Iron Fist")
    assert titles(store, "rand") == []
    assert titles(store, "colleen") == ["Iron Fist"]
    store.prune(unmatched_before=None, matched_before=NOW + timedelta(days=1), at=NOW)
    assert titles(store, "colleen") == []


def ids_of(store: Store) -> dict[str, int]:
    """Each stored article's id, by its title."""
    return {a.title: row_id for batch in store.stored_articles() for row_id, a, _ in batch}


def test_search_follows_an_article_into_and_out_of_the_shows(store: Store) -> None:
    save(store, "a", "Weather", "Rain all week over the studio lot.")  # matches no show
    save(store, "b", "Iron Fist", "Danny Rand trains in the rain.", "Iron Fist")
    assert titles(store, "rain") == ["Iron Fist"]
    ids = ids_of(store)
    # Re-judged: the weather story is about a show now, Iron Fist about none.
    store.replace_matches({ids["Weather"]: matched("Weather Watch"), ids["Iron Fist"]: ()})
    assert titles(store, "rain") == ["Weather"]
    store.replace_matches({ids["Iron Fist"]: matched("Iron Fist", "Defenders")})
    assert titles(store, "danny") == ["Iron Fist"]
    # Edited while matched, then while not: searched as it is each time it matters.
    save(store, "b", "Iron Fist", "Colleen Wing takes the fist.", "Iron Fist")
    assert titles(store, "colleen") == ["Iron Fist"] and titles(store, "danny") == []


def test_the_sqlite_index_holds_the_matched_articles_only(
    store: Store, database_url: str, engine: Engine
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL indexes an expression over every article")
    for n in range(5):
        save(store, f"u{n}", f"Weather {n}", "Rain all week.")
    save(store, "m", "Iron Fist", "Danny Rand trains.", "Iron Fist")
    with engine.connect() as connection:
        indexed = connection.exec_driver_sql("SELECT rowid FROM articles_search").scalars()
        assert list(indexed) == [ids_of(store)["Iron Fist"]]
        # FTS5's own check of the index against the text it holds.
        connection.exec_driver_sql(
            "INSERT INTO articles_search(articles_search, rank) VALUES ('integrity-check', 1)"
        )


def test_accents_and_case_are_ignored_on_sqlite(store: Store, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's 'simple' configuration keeps accents")
    save(store, "a", "Pokémon Horizons", "A new season.", "Pokemon")
    assert titles(store, "POKEMON") == ["Pokémon Horizons"]


def test_a_database_at_0006_with_data_is_searchable_after_upgrading(
    open_store: Callable[[str], Store], database_url: str, engine: Engine
) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine.url.database and engine.dialect.name == "sqlite":
        Path(engine.url.database).parent.mkdir(parents=True)
    story = article("e1", "https://tvwire.example/a", title="The Punisher returns", body="Frank.")
    dates = {"published", "first_seen", "updated_at"}
    rows = {
        "feeds": {"id": 1, "url": TVWIRE, "config_title": "TV Wire", "error_count": 0},
        "articles": {
            "id": 1,
            "feed_id": 1,
            "guid": "urn:feedwatch:old",
            "url": story.url,
            "link": story.url,
            "title": story.title,
            "summary": story.summary,
            "body": story.body,
            "page_text": "Jon Bernthal is Frank Castle once more.",
            "published": NOW,
            "first_seen": NOW,
            "updated_at": NOW,
            "version": story.version,
        },
        "entries": {"feed_id": 1, "entry_id": "e1", "article_id": 1, "version": story.version},
        "matches": {"article_id": 1, "show_name": "The Punisher", "position": 0, "phrase": "x"},
    }
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
        for name, values in rows.items():
            columns = [column(key, UTCDateTime() if key in dates else None) for key in values]
            connection.execute(insert(table(name, *columns)).values(values))

    store = open_store(database_url)
    [hit] = store.search("bernthal", 10)
    assert (hit.article.title, hit.article.link) == ("The Punisher returns", story.url)
    assert titles(store, "punisher") == ["The Punisher returns"]
    # Articles stored after the upgrade are searchable too.
    save(store, "e2", "Jessica Jones", "Krysten Ritter.", "Jessica Jones")
    assert titles(store, "ritter") == ["Jessica Jones"]
