"""Second-factor verification: a TOTP code and a backup code, on SQLite."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import measure, migrated_sqlite, summary, use_throwaway_key
from rxapp.services import accounts
from rxapp.services.database import session_for
from rxapp.services.mfa import flow as mfa
from rxapp.services.mfa.backup_codes import codes as backup_codes
from rxapp.services.mfa.totp import algorithm as totp
from rxapp.services.mfa.totp import flows as totp_flows


def run(runs: int = 300) -> list[str]:
    """Time check_code for TOTP and for a backup code; return report lines."""
    use_throwaway_key()
    folder = Path(tempfile.mkdtemp(prefix="rxapp-bench-"))
    url = migrated_sqlite(folder / "codes.db")
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    lines = []
    with session_for(url) as db:
        user = accounts.create_user(db, "bench@example.com", "bench-password", now=clock[0])
        enrollment = totp_flows.begin_enrollment(db, user, now=clock[0])
        step = totp.time_step(clock[0])
        totp_flows.confirm_enrollment(
            db, user.id, totp.code_at(enrollment.secret, step), now=clock[0]
        )
        code = [""]

        def next_step() -> None:
            clock[0] += timedelta(seconds=30)
            code[0] = totp.code_at(enrollment.secret, totp.time_step(clock[0]))

        def verify_totp() -> None:
            result = mfa.check_code(db, user.id, code[0], now=clock[0])
            db.commit()
            assert result.ok

        samples = measure(verify_totp, runs=runs, setup=next_step)
        lines.append(f"TOTP check (throttle, verify, step update), SQLite:  {summary(samples)}")

        batch: list[str] = []

        def new_batch() -> None:
            batch[:] = backup_codes.replace_batch(db, user.id, now=clock[0])

        def verify_backup() -> None:
            # The last code in storage order: the check tries every unused code before it.
            result = mfa.check_code(db, user.id, batch[-1], now=clock[0])
            db.commit()
            assert result.ok and result.used_backup_code

        samples = measure(verify_backup, runs=max(30, runs // 5), setup=new_batch)
        lines.append(f"Backup code check, five stored (worst position):    {summary(samples)}")
    return lines
