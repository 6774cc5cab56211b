"""audit origin: ip, user agent and session on every row

Revision ID: 9a4c2d7e5b13
Revises: 3e8b1f6a2c40
Create Date: 2026-11-30 07:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

# revision identifiers, used by Alembic.
revision: str = '9a4c2d7e5b13'
down_revision: Union[str, Sequence[str], None] = '3e8b1f6a2c40'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('user_agent', sqlmodel.sql.sqltypes.AutoString(length=255), server_default='', nullable=False))
        batch_op.add_column(sa.Column('session_ref', sqlmodel.sql.sqltypes.AutoString(length=32), server_default='', nullable=False))
        batch_op.create_index('ix_audit_event_user_id_id', ['user_id', 'id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_user_id_id')
        batch_op.drop_column('session_ref')
        batch_op.drop_column('user_agent')
        batch_op.drop_column('ip')
