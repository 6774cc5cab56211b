"""credential_epoch: sessions started by a sign-in that raced a change of credentials

Revision ID: e1f4c8a2d905
Revises: c7e2a5f9d318
Create Date: 2026-12-01 11:00:00.000000

A change of password or second factors ends every other session and pending login. A
sign-in whose factors were read just before that change, and whose session was written just
after it, escaped the revocation (on PostgreSQL the two run side by side). The account now
carries an epoch that each such change moves on, and every session and pending login the
epoch the account had when its factors were read: one from an older epoch is not live.
Existing rows all start at 0, so every live session stays live.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'e1f4c8a2d905'
down_revision: Union[str, Sequence[str], None] = 'c7e2a5f9d318'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ('app_user', 'auth_session', 'pending_login')


def upgrade() -> None:
    """Upgrade schema."""
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('credential_epoch', sa.Integer(), server_default='0', nullable=False)
            )


def downgrade() -> None:
    """Downgrade schema."""
    # Not in batch mode: on SQLite that copies app_user into a new table, which loses the
    # user_tally triggers of 0014. SQLite (3.35 and later) drops a plain column in place.
    for table in reversed(TABLES):
        op.drop_column(table, 'credential_epoch')
