"""passkeys (WebAuthn) and their challenges; twofa_active covers passkeys

Revision ID: f4b7d2a9c613
Revises: e8a3c6d1b402
Create Date: 2026-11-30 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import rxapp.models  # noqa: F401  (UTCDateTime)

# revision identifiers, used by Alembic.
revision: str = 'f4b7d2a9c613'
down_revision: Union[str, Sequence[str], None] = 'e8a3c6d1b402'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('passkey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sqlmodel.sql.sqltypes.AutoString(length=1400), nullable=False),
    sa.Column('public_key', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('sign_count', sa.BigInteger(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('transports', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('created_at', rxapp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', rxapp.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('credential_id')
    )
    with op.batch_alter_table('passkey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkey_user_id'), ['user_id'], unique=False)
    op.create_table('passkey_challenge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('binding', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('challenge', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('expires_at', rxapp.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('binding', 'purpose', name='uq_passkey_challenge_binding')
    )
    with op.batch_alter_table('passkey_challenge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkey_challenge_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_passkey_challenge_user_id'), ['user_id'], unique=False)
    # 2FA is active with TOTP or with a passkey: the flag no longer mirrors TOTP alone.
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_constraint('ck_app_user_twofa_active', type_='check')


def downgrade() -> None:
    """Downgrade schema."""
    op.execute(
        "UPDATE app_user SET twofa_active = (totp_enabled_at IS NOT NULL)"
    )
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.create_check_constraint(
            'ck_app_user_twofa_active', 'twofa_active = (totp_enabled_at IS NOT NULL)'
        )
    with op.batch_alter_table('passkey_challenge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passkey_challenge_user_id'))
        batch_op.drop_index(batch_op.f('ix_passkey_challenge_expires_at'))
    op.drop_table('passkey_challenge')
    with op.batch_alter_table('passkey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passkey_user_id'))
    op.drop_table('passkey')
