"""The admin dashboard's server-side query at 10k, 100k and 1M users, on SQLite (or on
PostgreSQL with `--postgres URL`: a database of its own per size on that server, dropped
afterwards)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import (
    drop_postgres,
    measure,
    migrated_postgres,
    migrated_sqlite,
    run_outside_transaction,
    summary,
    use_throwaway_key,
)
from rxapp.services import demo, users_query
from rxapp.services.clock import utcnow
from rxapp.services.database import engine_for, session_for
from rxapp.services.users_query import SortKey, StatusFilter

SIZES = (10_000, 100_000, 1_000_000)
VIEWS = {
    "filter: activated": {"status": StatusFilter.ACTIVATED},
    "filter: not activated": {"status": StatusFilter.NOT_ACTIVATED},
    "filter: all": {"status": StatusFilter.ALL},
    "search: 'user00012'": {"search": "user00012"},
    "search + filter": {"search": "user0001", "status": StatusFilter.ACTIVATED},
    "sort: last sign-in desc, activated": {
        "status": StatusFilter.ACTIVATED,
        "sort": SortKey.LAST_SIGN_IN,
        "descending": True,
    },
    "page 100 of all": {"page": 100},
}


def seeded(url: str, size: int) -> str:
    """`url`, a migrated database, with `size` synthetic users (37% with 2FA), its planner
    statistics up to date."""
    with session_for(url) as db:
        demo.seed(db, extra_users=size, now=utcnow())
    if url.startswith("postgresql"):
        run_outside_transaction(url, "VACUUM ANALYZE")
    return url


def run(sizes: tuple[int, ...] = SIZES, runs: int = 30, postgres: str = "") -> list[str]:
    """Median time of fetch_page (rows and counts) for each view and size."""
    use_throwaway_key()
    folder = Path(tempfile.mkdtemp(prefix="rxapp-bench-"))
    lines = []
    for size in sizes:
        name = f"rxapp_bench_users_{size}"
        if postgres:
            url = seeded(migrated_postgres(postgres, name), size)
        else:
            url = seeded(migrated_sqlite(folder / f"users-{size}.db"), size)
        where = "PostgreSQL" if postgres else "SQLite"
        try:
            with session_for(url) as db:
                for label, view in VIEWS.items():
                    samples = measure(lambda v=view: users_query.fetch_page(db, **v), runs=runs)
                    lines.append(f"{size:>9,} users  {where:10s} {label:36s} {summary(samples)}")
        finally:
            if postgres:
                engine_for(url).dispose()
                drop_postgres(postgres, name)
    return lines
