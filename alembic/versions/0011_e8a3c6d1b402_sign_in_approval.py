"""sign-in approvals with number matching

Revision ID: e8a3c6d1b402
Revises: d7e2b9c4f815
Create Date: 2026-11-30 07:50:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import rxapp.models  # noqa: F401  (UTCDateTime)

# revision identifiers, used by Alembic.
revision: str = 'e8a3c6d1b402'
down_revision: Union[str, Sequence[str], None] = 'd7e2b9c4f815'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('second_factor_at', rxapp.models.UTCDateTime(timezone=True), nullable=True))
    op.create_table('sign_in_approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pending_login_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', rxapp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', rxapp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('challenge', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('decided_at', rxapp.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_session_id', sa.Integer(), nullable=True),
    sa.Column('consumed_at', rxapp.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('requester_ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('requester_user_agent', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.ForeignKeyConstraint(['pending_login_id'], ['pending_login.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ref')
    )
    with op.batch_alter_table('sign_in_approval', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_approval_pending_login_id'), ['pending_login_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_approval_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('sign_in_approval', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_approval_user_id'))
        batch_op.drop_index(batch_op.f('ix_sign_in_approval_pending_login_id'))
    op.drop_table('sign_in_approval')
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.drop_column('second_factor_at')
