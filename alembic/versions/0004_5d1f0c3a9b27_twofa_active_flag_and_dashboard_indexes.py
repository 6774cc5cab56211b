"""twofa_active flag and the indexes of the admin dashboard

Revision ID: 5d1f0c3a9b27
Revises: b9e501612eaa
Create Date: 2026-11-28 06:20:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "5d1f0c3a9b27"
down_revision: Union[str, Sequence[str], None] = "b9e501612eaa"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add app_user.twofa_active (kept equal to totp_enabled_at IS NOT NULL by a CHECK)."""
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("twofa_active", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        sa.text(
            "UPDATE app_user SET twofa_active = (totp_enabled_at IS NOT NULL) "
            "WHERE totp_enabled_at IS NOT NULL"
        )
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.create_check_constraint(
            "ck_app_user_twofa_active", "twofa_active = (totp_enabled_at IS NOT NULL)"
        )
        batch_op.drop_index("ix_app_user_totp_enabled_at")
        batch_op.create_index("ix_app_user_active_email", ["twofa_active", "email"])
        batch_op.create_index("ix_app_user_active_created", ["twofa_active", "created_at", "id"])
        batch_op.create_index(
            "ix_app_user_active_last_sign_in", ["twofa_active", "last_sign_in_at", "id"]
        )


def downgrade() -> None:
    """Back to filtering on totp_enabled_at."""
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_index("ix_app_user_active_last_sign_in")
        batch_op.drop_index("ix_app_user_active_created")
        batch_op.drop_index("ix_app_user_active_email")
        batch_op.create_index("ix_app_user_totp_enabled_at", ["totp_enabled_at"])
        batch_op.drop_constraint("ck_app_user_twofa_active", type_="check")
        batch_op.drop_column("twofa_active")
