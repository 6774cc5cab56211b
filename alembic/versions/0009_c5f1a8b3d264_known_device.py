"""known devices

Revision ID: c5f1a8b3d264
Revises: 9a4c2d7e5b13
Create Date: 2026-11-30 07:55:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import rxapp.models  # noqa: F401  (UTCDateTime)

# revision identifiers, used by Alembic.
revision: str = 'c5f1a8b3d264'
down_revision: Union[str, Sequence[str], None] = '9a4c2d7e5b13'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('known_device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', rxapp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', rxapp.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'token_hash', name='uq_known_device')
    )
    with op.batch_alter_table('known_device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_known_device_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('known_device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_known_device_user_id'))
    op.drop_table('known_device')
