"""normalise emails

Stored addresses become the canonical form of `rxapp.services.emails.normalize_email`
(NFC, IDNA domain, lower case). Accounts whose addresses would collide after that are
reported and left exactly as they are, for an admin to resolve: nothing changes silently.

Revision ID: 3e8b1f6a2c40
Revises: 7c0d5e2f4a91
Create Date: 2026-11-30 07:30:00.000000

"""
import sys
from collections import defaultdict
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from rxapp.services.emails import normalize_email

# revision identifiers, used by Alembic.
revision: str = '3e8b1f6a2c40'
down_revision: Union[str, Sequence[str], None] = '7c0d5e2f4a91'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Normalise every stored address that does not collide; report those that do."""
    connection = op.get_bind()
    users = sa.table("app_user", sa.column("id", sa.Integer), sa.column("email", sa.String))
    rows = connection.execute(sa.select(users.c.id, users.c.email)).all()
    by_canonical: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for user_id, email in rows:
        by_canonical[normalize_email(email)].append((user_id, email))
    changed = 0
    for canonical, group in by_canonical.items():
        if len(group) > 1:
            listed = ", ".join(f"id {user_id} {email!r}" for user_id, email in group)
            print(
                f"rxapp migration: these accounts are one address once normalised "
                f"({canonical!r}) and were left unchanged; merge or rename them: {listed}",
                file=sys.stderr,
            )
            continue
        user_id, email = group[0]
        if email != canonical:
            connection.execute(users.update().where(users.c.id == user_id).values(email=canonical))
            changed += 1
    if changed:
        print(f"rxapp migration: normalised {changed} email address(es)", file=sys.stderr)


def downgrade() -> None:
    """Nothing to undo: the earlier forms are not kept."""
