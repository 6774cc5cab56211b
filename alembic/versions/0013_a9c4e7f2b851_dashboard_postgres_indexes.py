"""PostgreSQL: indexes for the dashboard's prefix search and its last-sign-in order

Revision ID: a9c4e7f2b851
Revises: f4b7d2a9c613
Create Date: 2026-11-30 14:20:00.000000

The dashboard searches by the start of an email in code-point order (`email COLLATE "C"`,
as SQLite compares), which the unique index in the database's own collation cannot serve:
at a million users each search was a full scan. Sorting by last sign-in puts "never signed
in" first (NULLS FIRST ascending, NULLS LAST descending, as SQLite does), which indexes in
PostgreSQL's default NULLS LAST order cannot serve either: these can, in both directions.
SQLite needs none of them.
"""
from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'a9c4e7f2b851'
down_revision: Union[str, Sequence[str], None] = 'f4b7d2a9c613'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute('CREATE INDEX ix_app_user_email_code_points ON app_user (email COLLATE "C")')
        op.execute(
            "CREATE INDEX ix_app_user_last_sign_in_nulls_first "
            "ON app_user (last_sign_in_at NULLS FIRST, id)"
        )
        op.execute(
            "CREATE INDEX ix_app_user_active_last_sign_in_nulls_first "
            "ON app_user (twofa_active, last_sign_in_at NULLS FIRST, id)"
        )


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_app_user_active_last_sign_in_nulls_first")
        op.execute("DROP INDEX ix_app_user_last_sign_in_nulls_first")
        op.execute("DROP INDEX ix_app_user_email_code_points")
