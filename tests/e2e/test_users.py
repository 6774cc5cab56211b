"""The admin "All users" dashboard in a real browser, on a seeded mix of statuses."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy import delete, func, insert, update
from sqlmodel import select

from rxapp.models import AuditEvent, AuthSession, User
from rxapp.services import secretbox
from rxapp.services.clock import utcnow
from rxapp.services.mfa.totp import algorithm as totp
from rxapp.state.users import UsersState
from rxapp.testing import Account, RxappServer
from tests.e2e.conftest import (
    LOGIN_URL,
    PROFILE_URL,
    EventForger,
    TwoFactor,
    enable_2fa,
    enable_2fa_until_the_codes,
    field_emptied,
    sign_in_admin,
    sign_in_to_profile,
    sign_in_with_code,
    sign_out,
)

pytestmark = pytest.mark.e2e
SEEDED = 120
ACTIVATED_EVERY = 3  # every third seeded user has 2FA on


@pytest.fixture(scope="module")
def mix(rxapp_server: RxappServer) -> str:
    """120 users whose emails start with one unique prefix; every third has 2FA on."""
    prefix = f"mix{uuid.uuid4().hex[:6]}-"
    now = utcnow()
    # A real ciphertext under the server's key: the database stays one the `rxapp` command
    # (which checks that its key opens a stored secret) works on.
    sealed = secretbox.encrypt(totp.new_secret())
    rows = []
    for i in range(SEEDED):
        activated = i % ACTIVATED_EVERY == 0
        rows.append(
            {
                "email": f"{prefix}{i:03d}@example.com",
                "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2VlZGVk$c2VlZGVkc2VlZGVk",
                "is_admin": False,
                "created_at": now - timedelta(days=i),
                "last_sign_in_at": now - timedelta(hours=(i * 7) % 100) if i % 4 else None,
                "totp_secret": sealed if activated else None,
                "totp_enabled_at": now - timedelta(days=i, hours=-1) if activated else None,
                "twofa_active": activated,
            }
        )
    with rxapp_server.db() as db:
        db.exec(insert(User), params=rows)
        db.commit()
    return prefix


def _db_count(server: RxappServer, prefix: str, *, activated: bool | None = None) -> int:
    query = select(func.count()).select_from(User).where(User.email.startswith(prefix))
    if activated is not None:
        query = query.where(User.twofa_active == activated)
    with server.db() as db:
        return db.exec(query).one()


def _count(page: Page, testid: str) -> int:
    return int(page.get_by_test_id(testid).inner_text().replace(",", ""))


def _admin_on_users(page: Page, admin: Account, path: str = "/users") -> TwoFactor:
    """Sign an admin in, turn 2FA on (admins need it for All users) and open `path`."""
    twofa = sign_in_admin(page, admin)
    page.goto(path)
    expect(page.get_by_test_id("users-table")).to_be_visible()
    return twofa


def _search(page: Page, text: str) -> None:
    page.get_by_test_id("users-search").fill(text)


def test_a_non_admin_is_sent_to_the_profile_with_a_reason(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.goto("/users")
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-notice")).to_have_text("Only admins can see All users.")
    expect(page.get_by_test_id("users-table")).to_have_count(0)


def test_a_notice_is_shown_once_not_on_every_later_visit(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.goto("/users")
    notice = page.get_by_test_id("profile-notice")
    expect(notice).to_have_text("Only admins can see All users.")
    page.reload()  # a new connection (as after a reconnect): a warning must not go unread
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)
    expect(notice).to_have_text("Only admins can see All users.")
    page.get_by_role("link", name="Profile").click()  # moving on in the app
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)
    expect(notice).to_have_count(0)
    page.goto("/users")  # asked again: told again
    expect(notice).to_have_text("Only admins can see All users.")


def test_without_a_session_the_dashboard_goes_to_login(page: Page) -> None:
    page.goto("/users")
    expect(page).to_have_url(LOGIN_URL)


def test_the_activated_filter_shows_only_activated_users_and_true_counts(
    page: Page, rxapp_admin: Account, rxapp_server: RxappServer, mix: str
) -> None:
    _admin_on_users(page, rxapp_admin)
    # The test ids are on what a flow uses: the <table> (its rows, by role), the <select>.
    table = page.get_by_test_id("users-table")
    assert table.evaluate("e => e.tagName") == "TABLE"
    assert page.get_by_test_id("users-filter").evaluate("e => e.tagName") == "SELECT"
    expect(table.get_by_role("row")).not_to_have_count(0)
    # Unfiltered: the counts are those of the whole database.
    with rxapp_server.db() as db:
        everyone = db.exec(select(func.count()).select_from(User)).one()
    expect(page.get_by_test_id("users-count")).to_have_text(f"{everyone:,}")

    _search(page, mix)
    expect(page.get_by_test_id("users-count")).to_have_text(str(SEEDED))
    counts = page.get_by_role("status").filter(has=page.get_by_test_id("users-count"))
    expect(counts).not_to_contain_text("Across all statuses")
    page.get_by_test_id("users-filter").select_option("activated")
    expected = _db_count(rxapp_server, mix, activated=True)
    expect(page.get_by_test_id("users-count")).to_have_text(str(expected))
    statuses = page.get_by_test_id("user-2fa-status")
    expect(statuses).to_have_count(expected)
    assert set(statuses.all_inner_texts()) == {"Activated"}
    assert _count(page, "users-count-activated") == expected
    assert _count(page, "users-count-not-activated") == _db_count(
        rxapp_server, mix, activated=False
    )
    # Those two counts are of every status: the line says so while a filter is chosen.
    expect(counts).to_contain_text("Across all statuses: Activated")
    expect(page).to_have_url(re.compile(rf"/users\?twofa=activated&q={mix}$"))


def test_the_filter_is_restored_from_the_url(
    page: Page, rxapp_admin: Account, rxapp_server: RxappServer, mix: str
) -> None:
    _admin_on_users(page, rxapp_admin, "/users?twofa=not_activated")
    expect(page.get_by_test_id("users-filter")).to_have_value("not_activated")
    _search(page, mix)
    expected = _db_count(rxapp_server, mix, activated=False)
    expect(page.get_by_test_id("users-count")).to_have_text(str(expected))
    assert set(page.get_by_test_id("user-2fa-status").all_inner_texts()) == {"Not activated"}


def test_users_opened_in_a_new_tab_has_the_whole_header(page: Page, rxapp_admin: Account) -> None:
    sign_in_admin(page, rxapp_admin)
    tab = page.context.new_page()
    tab.goto("/users?twofa=activated")
    expect(tab.get_by_test_id("users-count")).to_be_visible()
    header = tab.get_by_role("banner")
    expect(header.get_by_role("link", name="All users")).to_be_visible()
    expect(header.get_by_role("link", name="Profile")).to_be_visible()
    expect(header).to_contain_text(rxapp_admin.email)
    expect(tab.get_by_test_id("logout")).to_be_visible()


def test_an_unknown_filter_in_the_url_is_explained_and_shows_all(
    page: Page, rxapp_admin: Account
) -> None:
    _admin_on_users(page, rxapp_admin, "/users?twofa=<script>alert(1)</script>")
    expect(page.get_by_test_id("users-filter-notice")).to_contain_text("Unknown 2FA filter")
    expect(page.get_by_test_id("users-filter")).to_have_value("all")
    expect(page).to_have_url(re.compile(r"/users$"))


def test_the_view_is_in_the_address_and_survives_a_reload(
    page: Page, rxapp_admin: Account, mix: str
) -> None:
    _admin_on_users(page, rxapp_admin)
    _search(page, mix.upper())
    expect(page.get_by_test_id("users-count")).to_have_text(str(SEEDED))
    page.get_by_test_id("users-sort-created").click()  # oldest first
    page.get_by_test_id("users-page-next").click()
    emails = page.get_by_test_id("user-email")
    expect(emails.first).to_have_text(f"{mix}069@example.com")
    expect(page).to_have_url(re.compile(rf"/users\?q={mix}&sort=created&page=2$"))

    page.reload()  # the same users, the search box filled in
    expect(emails.first).to_have_text(f"{mix}069@example.com")
    expect(page.get_by_test_id("users-search")).to_have_value(mix)
    expect(page.get_by_test_id("users-count")).to_have_text(str(SEEDED))

    # A link from elsewhere, with what the page cannot use: left at the defaults.
    page.goto(f"/users?q={mix}&sort=nonsense&desc=1&page=99")
    expect(emails.first).to_have_text(f"{mix}019@example.com")  # the last page, by email
    expect(emails.last).to_have_text(f"{mix}000@example.com")  # descending
    expect(page).to_have_url(re.compile(rf"/users\?q={mix}&desc=1&page=3$"))


def test_search_paging_and_sort(page: Page, rxapp_admin: Account, mix: str) -> None:
    _admin_on_users(page, rxapp_admin)
    _search(page, mix.upper())  # emails match in any case
    expect(page.get_by_test_id("users-count")).to_have_text(str(SEEDED))
    emails = page.get_by_test_id("user-email")
    expect(emails).to_have_count(50)
    expect(emails.first).to_have_text(f"{mix}000@example.com")
    expect(page.get_by_test_id("users-page-prev")).to_be_disabled()

    page.get_by_test_id("users-page-next").click()
    expect(emails.first).to_have_text(f"{mix}050@example.com")
    page.get_by_test_id("users-page-next").click()
    expect(emails).to_have_count(SEEDED - 100)
    expect(page.get_by_test_id("users-page-next")).to_be_disabled()
    page.get_by_test_id("users-page-prev").click()
    expect(emails.first).to_have_text(f"{mix}050@example.com")

    page.get_by_test_id("users-sort-email").click()  # same column: descending, page 1
    expect(emails.first).to_have_text(f"{mix}119@example.com")
    page.get_by_test_id("users-sort-created").click()  # oldest first: created 119 days ago
    expect(emails.first).to_have_text(f"{mix}119@example.com")
    page.get_by_test_id("users-sort-created").click()
    expect(emails.first).to_have_text(f"{mix}000@example.com")
    page.get_by_test_id("users-sort-last-sign-in").click()
    expect(emails).to_have_count(50)

    _search(page, mix + "11")
    expect(page.get_by_test_id("users-count")).to_have_text("10")


def test_the_csv_export_matches_the_view(
    page: Page, rxapp_admin: Account, rxapp_server: RxappServer, mix: str
) -> None:
    _admin_on_users(page, rxapp_admin, "/users?twofa=activated")
    _search(page, mix)
    expected = _db_count(rxapp_server, mix, activated=True)
    expect(page.get_by_test_id("users-count")).to_have_text(str(expected))
    with page.expect_download() as download_info:
        page.get_by_test_id("users-export").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    assert len(rows) == expected
    assert {r["2fa_status"] for r in rows} == {"Activated"}
    assert [r["email"] for r in rows] == sorted(r["email"] for r in rows)
    assert all(r["email"].startswith(mix) for r in rows)
    assert "totp_secret" not in rows[0] and "password_hash" not in rows[0]


def test_an_export_link_does_not_work_for_anyone_else(
    page: Page, rxapp_server: RxappServer
) -> None:
    reply = page.request.get(f"{rxapp_server.url}/api/users.csv?token=forged.token")
    assert reply.status == 403
    assert "users" not in reply.text() or "invalid" in reply.text()


def test_an_admin_resets_a_users_2fa(
    page: Page, rxapp_admin: Account, rxapp_server: RxappServer, mix: str
) -> None:
    _admin_on_users(page, rxapp_admin)
    target = f"{mix}003@example.com"
    _search(page, target)
    expect(page.get_by_test_id("user-row")).to_have_count(1)
    expect(page.get_by_test_id("user-2fa-status")).to_have_text("Activated")
    page.get_by_test_id("user-reset-2fa").click()
    expect(page.get_by_role("alertdialog")).to_contain_text(target)
    page.get_by_test_id("reset-confirm").click()
    expect(page.get_by_test_id("user-2fa-status")).to_have_text("Not activated")

    with rxapp_server.db() as db:
        user = db.exec(select(User).where(User.email == target)).one()
        admin = db.exec(select(User).where(User.email == rxapp_admin.email)).one()
        event = db.exec(
            select(AuditEvent).where(
                AuditEvent.user_id == user.id, AuditEvent.event == "admin_reset_2fa"
            )
        ).one()
    assert user.totp_secret is None and not user.twofa_active
    assert event.actor_id == admin.id


def test_the_table_follows_a_user_turning_2fa_on_without_a_reload(
    page: Page, browser: Browser, rxapp_admin: Account, rxapp_server: RxappServer
) -> None:
    someone = rxapp_server.create_user()
    _admin_on_users(page, rxapp_admin)
    _search(page, someone.email)
    expect(page.get_by_test_id("users-count")).to_have_text("1")
    status = page.get_by_test_id("user-2fa-status")
    expect(status).to_have_text("Not activated")

    other = browser.new_context(base_url=rxapp_server.url).new_page()
    try:
        sign_in_to_profile(other, someone)
        enable_2fa_until_the_codes(other)
    finally:
        other.context.close()
    expect(status).to_have_text("Activated", timeout=8000)


FORGED = [
    ("set_status_filter", {"value": "activated"}),
    ("set_search", {"value": ""}),
    ("sort_by", {"key": "created"}),
    ("next_page", {}),
    ("export_csv", {}),
    ("confirm_reset", {}),
    ("set_status_filter", {"value": {"$ne": 1}}),
    ("watch_for_changes", {}),
]


def test_forged_dashboard_events_from_a_non_admin_change_and_reveal_nothing(
    page: Page,
    rxapp_user: Account,
    rxapp_server: RxappServer,
    mix: str,
    forge: EventForger,
    received_frames: list[str],
) -> None:
    victim = f"{mix}006@example.com"
    with rxapp_server.db() as db:
        victim_id = db.exec(select(User.id).where(User.email == victim)).one()
    sign_in_to_profile(page, rxapp_user)
    start = len(received_frames)
    handler = f"{UsersState.get_full_name()}."
    forge.send(handler + "ask_reset", {"user_id": victim_id}, path="/users")
    for name, payload in FORGED:
        forge.send(handler + name, payload, path="/users")
    # The server handles a tab's events one after another: once it answers a request made
    # after the forgeries (opening the enable dialog), it has handled them all.
    page.get_by_test_id("enable-2fa").click()
    expect(page.get_by_test_id("enroll-secret")).to_be_visible()

    with rxapp_server.db() as db:
        still = db.exec(select(User).where(User.email == victim)).one()
    assert still.twofa_active and still.totp_secret is not None
    leaked = "\n".join(received_frames[start:])
    assert mix not in leaked
    assert "api/users.csv" not in leaked


def test_an_admin_cannot_reset_their_own_2fa_from_the_dashboard(
    page: Page, rxapp_admin: Account, rxapp_server: RxappServer, forge: EventForger
) -> None:
    """Their own row offers no reset, and forged events get none either: the profile turns
    2FA off, after a current code; a session alone must not strip the account of it."""
    _admin_on_users(page, rxapp_admin)
    with rxapp_server.db() as db:
        own_id = db.exec(select(User.id).where(User.email == rxapp_admin.email)).one()
    handler = f"{UsersState.get_full_name()}."
    forge.send(handler + "ask_reset", {"user_id": own_id}, path="/users")
    expect(page.get_by_text("changed on My profile")).to_be_visible()
    expect(page.get_by_test_id("reset-confirm")).to_have_count(0)
    forge.send(handler + "confirm_reset", {"form": {}}, path="/users")  # no dialog: nothing
    page.get_by_test_id("users-search").fill(rxapp_admin.email)  # answered after both
    expect(page.get_by_test_id("user-row")).to_have_count(1)
    expect(page.get_by_test_id("user-2fa-status")).to_have_text("Activated")
    expect(page.get_by_test_id("user-reset-2fa")).to_have_count(0)
    with rxapp_server.db() as db:
        admin = db.exec(select(User).where(User.email == rxapp_admin.email)).one()
    assert admin.twofa_active and admin.totp_secret is not None


def test_an_admin_demoted_after_asking_cannot_confirm_a_reset(
    page: Page, rxapp_admin: Account, rxapp_server: RxappServer, mix: str
) -> None:
    target = f"{mix}009@example.com"
    _admin_on_users(page, rxapp_admin)
    _search(page, target)
    expect(page.get_by_test_id("user-row")).to_have_count(1)
    page.get_by_test_id("user-reset-2fa").click()
    expect(page.get_by_test_id("reset-confirm")).to_be_visible()
    with rxapp_server.db() as db:
        db.exec(update(User).where(User.email == rxapp_admin.email).values(is_admin=False))
        db.commit()
    page.get_by_test_id("reset-confirm").click()
    expect(page).to_have_url(PROFILE_URL)
    with rxapp_server.db() as db:
        still = db.exec(select(User).where(User.email == target)).one()
    assert still.twofa_active and still.totp_secret is not None


def test_a_reset_long_after_sign_in_asks_the_admin_to_prove_it_is_them(
    page: Page, rxapp_admin: Account, rxapp_server: RxappServer, mix: str
) -> None:
    target = f"{mix}012@example.com"
    twofa = _admin_on_users(page, rxapp_admin)
    with rxapp_server.db() as db:
        admin_id = db.exec(select(User.id).where(User.email == rxapp_admin.email)).one()
        db.exec(
            update(AuthSession)
            .where(AuthSession.user_id == admin_id)
            .values(fresh_proof_at=utcnow() - timedelta(minutes=6))
        )
        db.commit()
    _search(page, target)
    expect(page.get_by_test_id("user-row")).to_have_count(1)
    page.get_by_test_id("user-reset-2fa").click()
    # An admin has 2FA (the dashboard needs it), so the proof is a current code.
    page.get_by_test_id("reauth-input").fill(rxapp_admin.password)
    page.get_by_test_id("reset-confirm").click()
    expect(page.get_by_test_id("reauth-error")).not_to_be_empty()
    expect(page.get_by_test_id("user-2fa-status")).to_have_text("Activated")

    field_emptied(page, "reauth-input")
    page.get_by_test_id("reauth-input").fill(twofa.backup_codes[0])
    page.get_by_test_id("reset-confirm").click()
    expect(page.get_by_test_id("user-2fa-status")).to_have_text("Not activated")


def test_a_long_email_stays_in_its_column(
    page: Page, rxapp_admin: Account, rxapp_server: RxappServer
) -> None:
    prefix = f"long{uuid.uuid4().hex[:6]}-"
    emails = [f"{prefix}user0000039@users.example.com", f"{prefix}{'x' * 60}@example.com"]
    with rxapp_server.db() as db:
        for email in emails:
            db.add(User(email=email, password_hash="$argon2id$seeded", created_at=utcnow()))
        db.commit()
    try:
        _admin_on_users(page, rxapp_admin)
        _search(page, prefix)
        rows = page.get_by_test_id("user-row")
        expect(rows).to_have_count(2)
        for row in rows.all():
            email = row.get_by_test_id("user-email").bounding_box()
            status = row.get_by_test_id("user-2fa-status").bounding_box()
            assert email and status
            assert email["x"] + email["width"] <= status["x"], "the email runs over the status"
    finally:  # these sort first: other tests of this server look at the first rows
        with rxapp_server.db() as db:
            db.exec(delete(User).where(User.email.in_(emails)))
            db.commit()


def test_the_date_2fa_is_required_by_stays_in_its_column(
    page: Page, rxapp_admin: Account, rxapp_server: RxappServer
) -> None:
    email = f"due{uuid.uuid4().hex[:6]}@example.com"  # an admin: the policy asks for 2FA
    with rxapp_server.db() as db:
        db.add(
            User(email=email, password_hash="$argon2id$seeded", created_at=utcnow(), is_admin=True)
        )
        db.commit()
    try:
        _admin_on_users(page, rxapp_admin)
        _search(page, email)
        required = page.get_by_test_id("user-2fa-required-by")
        expect(required).to_contain_text("required by")
        overflow = required.evaluate("el => el.scrollWidth - el.clientWidth")
        assert overflow <= 0, f"the date runs {overflow}px into the next column"
    finally:
        with rxapp_server.db() as db:
            db.exec(delete(User).where(User.email == email))
            db.commit()


def test_an_open_dashboard_closes_itself_when_its_admin_turns_2fa_off(
    page: Page, rxapp_admin: Account
) -> None:
    twofa = _admin_on_users(page, rxapp_admin)
    profile = page.context.new_page()  # the same session, in another tab
    profile.goto("/profile")
    profile.get_by_test_id("disable-2fa").click()
    profile.get_by_test_id("disable-code").fill(twofa.code(steps_ahead=1))
    profile.get_by_test_id("disable-confirm").click()
    expect(profile.get_by_test_id("twofa-status")).to_have_text("Not activated")
    # The live refresh (every few seconds) finds the dashboard closed to this admin now:
    # the rows go, and the tab is told why, without any click of its own.
    expect(page).to_have_url(PROFILE_URL, timeout=15_000)
    expect(page.get_by_test_id("profile-notice")).to_contain_text(
        "All users is open to admins with two-factor authentication only."
    )
    expect(page.get_by_test_id("user-row")).to_have_count(0)


def _rxapp_cli(server: RxappServer, *args: str) -> str:
    """Run the installed `rxapp` command against the running server's database."""
    script = Path(sys.executable).parent / "rxapp"
    done = subprocess.run(
        [str(script), *args], env=server.env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_an_account_the_operator_makes_admin_opens_all_users_until_the_role_is_taken_away(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    page.goto("/users")
    expect(page.get_by_test_id("profile-notice")).to_have_text("Only admins can see All users.")

    made = _rxapp_cli(rxapp_server, "set-admin", rxapp_user.email)
    assert made == f"{rxapp_user.email} is now an admin."
    page.goto("/users")  # the same session: the role is read from the database
    expect(page.get_by_test_id("users-table")).to_be_visible()
    _search(page, rxapp_user.email)
    expect(page.get_by_test_id("user-row")).to_have_count(1)

    _rxapp_cli(rxapp_server, "set-admin", rxapp_user.email, "--remove")
    # The open dashboard's next event is refused: the admin's search, or the page's own
    # live check if that comes first (as seen in CI, the field left mid-fill).
    with contextlib.suppress(PlaywrightTimeoutError):
        page.get_by_test_id("users-search").fill("anything", timeout=3000)
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-notice")).to_have_text("Only admins can see All users.")
    expect(page.get_by_test_id("users-table")).to_have_count(0)

    # Told at the next sign-in, both changes, in order.
    sign_out(page)
    sign_in_with_code(page, rxapp_user, twofa.code(steps_ahead=1))
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-notice")).to_contain_text(
        re.compile(
            r"^An admin made your account an admin on \w{3} \d{1,2}, \d{4}\. "
            r"An admin took your account's admin role away on \w{3} \d{1,2}, \d{4}\."
        )
    )


def test_an_account_the_operator_deletes_leaves_the_table_and_its_open_tab(
    page: Page, browser: Browser, rxapp_admin: Account, rxapp_server: RxappServer
) -> None:
    someone = rxapp_server.create_user()
    theirs = browser.new_context(base_url=rxapp_server.url).new_page()
    try:
        sign_in_to_profile(theirs, someone)
        _admin_on_users(page, rxapp_admin)
        _search(page, someone.email)
        expect(page.get_by_test_id("user-row")).to_have_count(1)

        told = _rxapp_cli(rxapp_server, "delete-user", someone.email, "--yes")
        assert told.startswith(f"Deleted {someone.email} with its sessions")

        # The open dashboard follows without a reload; the deleted account's tab leaves its
        # profile for the sign-in page by itself, and its password opens nothing any more.
        expect(page.get_by_test_id("user-row")).to_have_count(0, timeout=8000)
        expect(page.get_by_test_id("users-count")).to_have_text("0")
        expect(theirs).to_have_url(LOGIN_URL, timeout=15000)
        expect(theirs.get_by_test_id("profile-email")).to_have_count(0)
        theirs.get_by_test_id("login-email").fill(someone.email)
        theirs.get_by_test_id("login-password").fill(someone.password)
        theirs.get_by_test_id("login-submit").click()
        expect(theirs.get_by_test_id("login-error")).to_be_visible()
        expect(theirs).to_have_url(LOGIN_URL)
    finally:
        theirs.context.close()
