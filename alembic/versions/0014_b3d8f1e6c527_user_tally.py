"""user_tally: the dashboard's per-status counts, kept by triggers on app_user

Revision ID: b3d8f1e6c527
Revises: a9c4e7f2b851
Create Date: 2026-11-30 19:00:00.000000

Counting a million users took the dashboard 8-9 ms per count on SQLite and 25-30 ms on
PostgreSQL (bench/README.md). The triggers keep the tally's one row up to date in the same
transaction as each insert, delete or change of `twofa_active`, whichever code or SQL makes
it. On PostgreSQL, inserts and deletes are counted once per statement (transition tables),
so a bulk insert updates the tally once, not once per row; a change of `twofa_active` is
counted per row, only when the value changes. TRUNCATE of app_user empties the tally.

SQLite drops a table's triggers with the table: a later migration that rebuilds app_user
(alembic's batch mode does, on SQLite) must create them again, as `create_triggers` here does.
tests/unit/services/test_user_tally.py fails if they go missing.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "b3d8f1e6c527"
down_revision: Union[str, Sequence[str], None] = "a9c4e7f2b851"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# One row (id 1) holds both counts, so a write locks one tally row, never two in some order
# that another transaction could take in the other (a deadlock).
_ADD = (
    "INSERT INTO user_tally (id, activated, not_activated) {rows} ON CONFLICT (id) DO UPDATE"
    " SET activated = user_tally.activated + excluded.activated,"
    " not_activated = user_tally.not_activated + excluded.not_activated"
)
_SQLITE_ROW = "VALUES (1, {sign}{row}.twofa_active, {sign}(NOT {row}.twofa_active))"
_POSTGRES_ROWS = (
    "SELECT 1, {sign}count(*) FILTER (WHERE twofa_active),"
    " {sign}count(*) FILTER (WHERE NOT twofa_active) FROM {table}"
)

_SQLITE = [
    f"""CREATE TRIGGER user_tally_insert AFTER INSERT ON app_user BEGIN
        {_ADD.format(rows=_SQLITE_ROW.format(sign="", row="NEW"))}; END""",
    f"""CREATE TRIGGER user_tally_delete AFTER DELETE ON app_user BEGIN
        {_ADD.format(rows=_SQLITE_ROW.format(sign="-", row="OLD"))}; END""",
    f"""CREATE TRIGGER user_tally_update AFTER UPDATE OF twofa_active ON app_user
        WHEN OLD.twofa_active IS NOT NEW.twofa_active BEGIN
        {_ADD.format(rows="VALUES (1, NEW.twofa_active - OLD.twofa_active, OLD.twofa_active - NEW.twofa_active)")}; END""",
]

_POSTGRES = [
    f"""CREATE FUNCTION user_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        {_ADD.format(rows=_POSTGRES_ROWS.format(sign="", table="new_rows"))};
        RETURN NULL; END $$""",
    f"""CREATE FUNCTION user_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        {_ADD.format(rows=_POSTGRES_ROWS.format(sign="-", table="old_rows"))};
        RETURN NULL; END $$""",
    f"""CREATE FUNCTION user_tally_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        {_ADD.format(rows="VALUES (1, NEW.twofa_active::int - OLD.twofa_active::int, OLD.twofa_active::int - NEW.twofa_active::int)")};
        RETURN NULL; END $$""",
    """CREATE FUNCTION user_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        DELETE FROM user_tally; RETURN NULL; END $$""",
    """CREATE TRIGGER user_tally_insert AFTER INSERT ON app_user
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_tally_insert()""",
    """CREATE TRIGGER user_tally_delete AFTER DELETE ON app_user
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION user_tally_delete()""",
    """CREATE TRIGGER user_tally_update AFTER UPDATE OF twofa_active ON app_user FOR EACH ROW
        WHEN (OLD.twofa_active IS DISTINCT FROM NEW.twofa_active)
        EXECUTE FUNCTION user_tally_update()""",
    """CREATE TRIGGER user_tally_truncate AFTER TRUNCATE ON app_user
        FOR EACH STATEMENT EXECUTE FUNCTION user_tally_truncate()""",
]


def create_triggers() -> None:
    """The triggers that keep user_tally, for this database."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES if postgres else _SQLITE:
        op.execute(statement)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "user_tally",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activated", sa.BigInteger(), nullable=False),
        sa.Column("not_activated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("id = 1", name="ck_user_tally_one_row"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # No write between the count below and the triggers taking over.
        op.execute("LOCK TABLE app_user IN SHARE ROW EXCLUSIVE MODE")
    create_triggers()
    op.execute(
        "INSERT INTO user_tally (id, activated, not_activated) SELECT 1,"
        " count(CASE WHEN twofa_active THEN 1 END), count(CASE WHEN twofa_active THEN NULL ELSE 1 END)"
        " FROM app_user"
    )


def downgrade() -> None:
    """Downgrade schema."""
    for name in ("insert", "delete", "update", "truncate"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS user_tally_{name} ON app_user")
            op.execute(f"DROP FUNCTION IF EXISTS user_tally_{name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS user_tally_{name}")
    op.drop_table("user_tally")
