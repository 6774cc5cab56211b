"""known_device: a second-factor throttle per known device

Revision ID: c7e2a5f9d318
Revises: b3d8f1e6c527
Create Date: 2026-12-01 03:00:00.000000

Codes from a browser that signed in to the account with a second factor before are
throttled on that device's row, apart from the account's row, which counts every other
browser: a stranger who has the password can no longer lock the owner's own browser out
(DESIGN, security bar 10). `second_factor_at` says which devices qualify; existing rows start
without it (they qualify again at their next sign-in with a second factor).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import rxapp.models  # noqa: F401  (UTCDateTime)

# revision identifiers, used by Alembic.
revision: str = 'c7e2a5f9d318'
down_revision: Union[str, Sequence[str], None] = 'b3d8f1e6c527'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('known_device', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'second_factor_at', rxapp.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column('second_factor_failures', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                'second_factor_blocked_until',
                rxapp.models.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('known_device', schema=None) as batch_op:
        batch_op.drop_column('second_factor_blocked_until')
        batch_op.drop_column('second_factor_failures')
        batch_op.drop_column('second_factor_at')
