"""spent links

Revision ID: d7e2b9c4f815
Revises: c5f1a8b3d264
Create Date: 2026-11-30 08:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import rxapp.models  # noqa: F401  (UTCDateTime)

# revision identifiers, used by Alembic.
revision: str = 'd7e2b9c4f815'
down_revision: Union[str, Sequence[str], None] = 'c5f1a8b3d264'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('spent_link',
    sa.Column('nonce', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('spent_at', rxapp.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('nonce')
    )
    with op.batch_alter_table('spent_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spent_link_spent_at'), ['spent_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('spent_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spent_link_spent_at'))
    op.drop_table('spent_link')
