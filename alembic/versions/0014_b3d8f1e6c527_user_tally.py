"""user_tally: the dashboard's per-status counts, kept by triggers on app_user

Revision ID: b3d8f1e6c527
Revises: a9c4e7f2b851
Create Date: 2026-11-30 19:00:00.000000

Counting a million users was most of the dashboard's time: about 19 ms on SQLite and 60 ms
on PostgreSQL per page (bench/README.md). The triggers keep the tally's one row up to date
in the same transaction as each insert, delete or change of `twofa_active`, whichever code
or SQL makes it. On PostgreSQL every trigger is per statement, from its transition tables:
a bulk insert or update touches the tally once, and a statement that changes no one's 2FA
(a sign-in's update of its own row, say) does not touch it at all. TRUNCATE of app_user
empties the tally. On SQLite the triggers are per row (SQLite has no other kind); SQLite's
REPLACE, which deletes without firing delete triggers, is the one write they miss (the app
never uses it).

SQLite drops a table's triggers with the table: a later migration that rebuilds app_user
(alembic's batch mode does, on SQLite) must create them again, as `create_triggers` here
does. tests/unit/services/test_user_tally.py fails if they go missing.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'b3d8f1e6c527'
down_revision: Union[str, Sequence[str], None] = 'a9c4e7f2b851'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TRIGGERS = ("insert", "delete", "update", "truncate")

# One row (id 1) holds both counts, so a write locks one tally row, never two in some order
# that another transaction could take in the other (a deadlock).
_ADD = (
    "INSERT INTO user_tally (id, activated, not_activated) {rows} ON CONFLICT (id) DO UPDATE"
    " SET activated = user_tally.activated + excluded.activated,"
    " not_activated = user_tally.not_activated + excluded.not_activated"
)
# Counts of a set of rows, in SQL both databases take.
_ACTIVATED = "count(CASE WHEN twofa_active THEN 1 END)"
_NOT_ACTIVATED = "count(CASE WHEN twofa_active THEN NULL ELSE 1 END)"

_SQLITE = [
    f"""CREATE TRIGGER user_tally_insert AFTER INSERT ON app_user BEGIN
        {_ADD.format(rows="VALUES (1, NEW.twofa_active, NOT NEW.twofa_active)")}; END""",
    f"""CREATE TRIGGER user_tally_delete AFTER DELETE ON app_user BEGIN
        {_ADD.format(rows="VALUES (1, -OLD.twofa_active, -(NOT OLD.twofa_active))")}; END""",
    f"""CREATE TRIGGER user_tally_update AFTER UPDATE OF twofa_active ON app_user
        WHEN OLD.twofa_active IS NOT NEW.twofa_active BEGIN
        {_ADD.format(rows="VALUES (1, NEW.twofa_active - OLD.twofa_active, "
                                  "OLD.twofa_active - NEW.twofa_active)")}; END""",
]

_POSTGRES = [
    f"""CREATE FUNCTION user_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF EXISTS (SELECT 1 FROM new_rows) THEN
          {_ADD.format(rows=f"SELECT 1, {_ACTIVATED}, {_NOT_ACTIVATED} FROM new_rows")};
        END IF;
        RETURN NULL; END $$""",
    f"""CREATE FUNCTION user_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF EXISTS (SELECT 1 FROM old_rows) THEN
          {_ADD.format(rows=f"SELECT 1, -{_ACTIVATED}, -{_NOT_ACTIVATED} FROM old_rows")};
        END IF;
        RETURN NULL; END $$""",
    # Per statement: a row trigger would update the one tally row once per changed user, and
    # PostgreSQL slows down with each new version of a row in one transaction (quadratic).
    f"""CREATE FUNCTION user_tally_update() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE change bigint; BEGIN
        SELECT (SELECT {_ACTIVATED} FROM new_rows) - (SELECT {_ACTIVATED} FROM old_rows)
          INTO change;
        IF change <> 0 THEN
          {_ADD.format(rows="VALUES (1, change, -change)")};
        END IF;
        RETURN NULL; END $$""",
    """CREATE FUNCTION user_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        DELETE FROM user_tally; RETURN NULL; END $$""",
    """CREATE TRIGGER user_tally_insert AFTER INSERT ON app_user
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_tally_insert()""",
    """CREATE TRIGGER user_tally_delete AFTER DELETE ON app_user
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION user_tally_delete()""",
    # Transition tables cannot go with `UPDATE OF twofa_active`: every update fires it, and
    # one that changes no one's 2FA writes nothing (and takes no lock).
    """CREATE TRIGGER user_tally_update AFTER UPDATE ON app_user
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION user_tally_update()""",
    """CREATE TRIGGER user_tally_truncate AFTER TRUNCATE ON app_user
        FOR EACH STATEMENT EXECUTE FUNCTION user_tally_truncate()""",
]


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_triggers() -> None:
    """The triggers that keep user_tally, for this database."""
    for statement in _POSTGRES if _postgres() else _SQLITE:
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
    if _postgres():
        # No write between the count below and the triggers taking over.
        op.execute("LOCK TABLE app_user IN SHARE ROW EXCLUSIVE MODE")
    create_triggers()
    # The count replaces whatever the triggers added meanwhile: on SQLite each statement
    # above may have committed on its own, and a sign-up between them is in this count (an
    # INSERT takes SQLite's write lock before it reads). `WHERE true` lets SQLite parse the
    # upsert after a SELECT.
    op.execute(
        "INSERT INTO user_tally (id, activated, not_activated)"
        f" SELECT 1, {_ACTIVATED}, {_NOT_ACTIVATED} FROM app_user WHERE true"
        " ON CONFLICT (id) DO UPDATE"
        " SET activated = excluded.activated, not_activated = excluded.not_activated"
    )


def downgrade() -> None:
    """Downgrade schema."""
    postgres = _postgres()
    for name in TRIGGERS:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS user_tally_{name} ON app_user")
            op.execute(f"DROP FUNCTION IF EXISTS user_tally_{name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS user_tally_{name}")
    op.drop_table("user_tally")
