"""The admin dashboard's server-side query at 10k, 100k and 1M users, on SQLite."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import measure, migrated_sqlite, summary, use_throwaway_key
from rxapp.services import demo, users_query
from rxapp.services.clock import utcnow
from rxapp.services.database import session_for
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


def seeded(size: int, folder: Path) -> str:
    """A migrated SQLite file with `size` synthetic users (37% with 2FA)."""
    url = migrated_sqlite(folder / f"users-{size}.db")
    with session_for(url) as db:
        demo.seed(db, extra_users=size, now=utcnow())
    return url


def run(sizes: tuple[int, ...] = SIZES, runs: int = 30) -> list[str]:
    """Median time of fetch_page (rows and counts) for each view and size."""
    use_throwaway_key()
    folder = Path(tempfile.mkdtemp(prefix="rxapp-bench-"))
    lines = []
    for size in sizes:
        url = seeded(size, folder)
        with session_for(url) as db:
            for label, view in VIEWS.items():
                samples = measure(lambda v=view: users_query.fetch_page(db, **v), runs=runs)
                lines.append(f"{size:>9,} users  {label:36s} {summary(samples)}")
    return lines
