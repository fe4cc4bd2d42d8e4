"""Alembic migrations: the only code that creates or changes feedwatch's schema.

`Store.open` runs `alembic upgrade head` on every start (configured in code, no alembic.ini
needed), so a new migration reaches users' databases by itself. To add one:

1. Change the ORM classes in `feedwatch/store/schema.py`.
2. Bring a scratch database to the current head and let Alembic write the difference:

       alembic -c src/feedwatch/store/migrations/alembic.ini upgrade head
       alembic -c src/feedwatch/store/migrations/alembic.ini revision --autogenerate \\
           --rev-id 0002 -m "feed back-off"

   (`-x url=postgresql+psycopg://...` before the command targets another database; the
   default is ./feedwatch-dev.db.)
3. Read the new file in `versions/`: autogenerate misses renames and data changes. Keep
   the `batch_alter_table` blocks it writes: they are how SQLite alters a table.
4. `pytest tests/test_store.py` (or `alembic ... check`) confirms the migrations produce
   exactly the ORM schema.
"""
