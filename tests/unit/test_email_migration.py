"""The migration that normalises stored emails: it changes what is safe and reports the rest."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import upgrade_to

BEFORE = "7c0d5e2f4a91"  # the revision before 0007
NFD = "jose\u0301@example.com"
NFC = "jos\u00e9@example.com"


def test_emails_are_normalised_and_collisions_reported_and_left_alone(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_to(url, BEFORE)
    engine = sa.create_engine(url)
    insert = sa.text(
        "INSERT INTO app_user (email, password_hash, is_admin, created_at, twofa_active,"
        " second_factor_failures) VALUES (:email, 'x', 0, '2026-01-01 00:00:00', 0, 0)"
    )
    with engine.begin() as connection:
        for email in [NFD, NFC, "Ann@B\u00dcCHER.de"]:
            connection.execute(insert, {"email": email})

    upgrade_to(url, "head")

    with engine.connect() as connection:
        stored = sorted(connection.execute(sa.text("SELECT email FROM app_user")).scalars())
    engine.dispose()
    assert stored == sorted([NFD, NFC, "ann@b\u00fccher.de"])
    report = capsys.readouterr().err
    assert "left unchanged" in report and "merge or rename" in report
    assert "normalised 1 email address" in report
