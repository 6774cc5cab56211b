"""The admin CSV export endpoint, called through ASGI: signed link, admin role, streamed CSV."""

from __future__ import annotations

import base64
import csv
import io
import json
import warnings
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from starlette.exceptions import StarletteDeprecationWarning

from rxapp.api import EXPORT_PATH, EXPORT_PURPOSE, api
from rxapp.models import AuthSession, User
from rxapp.services import sessions, signed_links
from rxapp.services.clock import utcnow
from rxapp.services.users_export import HEADER
from rxapp.settings import get_settings

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; the project installs httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$constant-api-hash"
TOTP_SECRET = "gAAAAAB-encrypted-secret-never-in-an-export"
EMAILS = [  # inserted in this order, each a day younger than the one before
    "boss@example.com",
    "carl@example.com",
    *(f"ann.{i}@example.com" for i in range(6)),
    *(f"bob.{i}@example.com" for i in range(6)),
    "=danger@example.com",
]
INVALID_LINK = "This export link is invalid or has expired."
ADMINS_ONLY = "Only admins with two-factor authentication can export users."


@pytest.fixture
def client(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The ASGI app reading the test's database (and the session's secret key)."""
    get_settings.cache_clear()
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    get_settings.cache_clear()
    assert get_settings().db_url == db_url
    with TestClient(api) as test_client:
        yield test_client
    get_settings.cache_clear()


@pytest.fixture
def people(db: Session) -> dict[str, int]:
    """An admin, a plain user, and a mix of users with and without 2FA."""
    now = utcnow()
    rows = []
    for i, email in enumerate(EMAILS):
        activated = i % 2 == 0
        created = now - timedelta(days=30 - i)
        rows.append(
            {
                "email": email,
                "password_hash": PASSWORD_HASH,
                "is_admin": email == "boss@example.com",
                "created_at": created,
                "last_sign_in_at": None,
                "totp_secret": TOTP_SECRET if activated else None,
                "totp_enabled_at": created if activated else None,
                "twofa_active": activated,
            }
        )
    db.exec(sa.insert(User), params=rows)
    db.commit()
    ids = dict(db.exec(select(User.email, User.id)).all())
    # Everyone is signed in once: a link carries the session that asked for it.
    SESSION_OF.clear()
    for user_id in ids.values():
        token = sessions.start_session(
            db, db.get(User, user_id), epoch=db.get(User, user_id).credential_epoch, now=now
        )
        SESSION_OF[user_id] = sessions.current_session(db, token, now=now).session.id
        TOKEN_OF[user_id] = token
    return ids


SESSION_OF: dict[int, int] = {}
TOKEN_OF: dict[int, str] = {}
SESSION_ENDED = "This export link belongs to a session that has ended."


def link(view: dict, *, now_offset: timedelta = timedelta(0), ttl: int = 60) -> str:
    """A signed export link; unless the view names one, with its admin's own live session."""
    if "session" not in view and isinstance(view.get("admin"), int):
        view = {**view, "session": SESSION_OF.get(view["admin"])}
    token = signed_links.sign(EXPORT_PURPOSE, view, now=utcnow() + now_offset, ttl_seconds=ttl)
    return f"{EXPORT_PATH}?token={token}"


def records(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def assert_refused(response, status: int, message: str) -> None:
    assert response.status_code == status
    assert response.text == message
    assert response.headers["content-type"].startswith("text/plain")
    assert "@example.com" not in response.text


# --- a valid link ---------------------------------------------------------------------------


def test_an_admins_link_streams_the_csv_of_the_signed_view(client, people):
    view = {"admin": people["boss@example.com"], "twofa": "activated", "q": "ann", "desc": True}
    response = client.get(link(view | {"sort": "email"}))

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="rxapp-users-')
    assert disposition.endswith('.csv"')
    assert response.headers["cache-control"] == "no-store"

    rows = records(response.text)
    assert rows[0] == HEADER
    # ann.0..ann.5 are users 2..7; the even-numbered ones have 2FA: ann.0, ann.2, ann.4.
    assert [r[0] for r in rows[1:]] == [
        "ann.4@example.com",
        "ann.2@example.com",
        "ann.0@example.com",
    ]
    assert {r[1] for r in rows[1:]} == {"Activated"}


def test_a_link_without_a_view_exports_everyone_by_email(client, people):
    response = client.get(link({"admin": people["boss@example.com"]}))
    assert response.status_code == 200
    emails = [r[0] for r in records(response.text)[1:]]
    assert emails == sorted(e if e[0] != "=" else "'" + e for e in people)
    assert "'=danger@example.com" in emails  # a formula-looking cell is defused


@pytest.mark.both_databases
def test_a_link_sorted_by_creation_follows_the_signed_order(client, people):
    view = {"admin": people["boss@example.com"], "sort": "created", "twofa": "not_activated"}
    response = client.get(link(view))
    assert response.status_code == 200
    emails = [r[0] for r in records(response.text)[1:]]
    assert emails == [e for i, e in enumerate(EMAILS) if i % 2 == 1]  # oldest first


def test_the_export_holds_no_secret_or_hash(client, people):
    text = client.get(link({"admin": people["boss@example.com"]})).text
    assert TOTP_SECRET not in text
    assert PASSWORD_HASH not in text


# --- refused links --------------------------------------------------------------------------


def test_an_expired_link_is_refused(client, people):
    expired = link({"admin": people["boss@example.com"]}, now_offset=timedelta(seconds=-61))
    assert_refused(client.get(expired), 403, INVALID_LINK)


def test_a_link_without_a_token_is_refused(client, people):
    assert_refused(client.get(EXPORT_PATH), 403, INVALID_LINK)
    assert_refused(client.get(f"{EXPORT_PATH}?token="), 403, INVALID_LINK)


@pytest.mark.parametrize("token", ["abc", "a.b", "a.b.c", "%FF%FE.%00", "x" * 5000])
def test_a_garbage_token_is_refused(client, people, token):
    assert_refused(client.get(EXPORT_PATH, params={"token": token}), 403, INVALID_LINK)


def test_a_forged_link_is_refused(client, people):
    """A plain user turns their own link into the admin's by editing the payload."""
    own = link({"admin": people["carl@example.com"]}).split("token=")[1]
    body, signature = own.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["p"]["admin"] = people["boss@example.com"]
    forged_body = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    response = client.get(EXPORT_PATH, params={"token": f"{forged_body}.{signature}"})
    assert_refused(response, 403, INVALID_LINK)


def test_a_link_signed_for_another_purpose_is_refused(client, people):
    token = signed_links.sign(
        "password-reset", {"admin": people["boss@example.com"]}, now=utcnow(), ttl_seconds=60
    )
    assert_refused(client.get(EXPORT_PATH, params={"token": token}), 403, INVALID_LINK)


@pytest.mark.parametrize("admin", [None, "1", 1.0, [1], {"id": 1}])
def test_a_link_without_an_integer_admin_id_is_refused(client, people, admin):
    view = {"twofa": "all"} if admin is None else {"admin": admin}
    response = client.get(link(view))
    assert response.status_code == 403


def test_a_link_of_a_user_who_is_not_an_admin_is_refused(client, people):
    assert_refused(client.get(link({"admin": people["carl@example.com"]})), 403, ADMINS_ONLY)


def test_a_link_of_an_admin_who_was_demoted_is_refused(client, people, db):
    boss = people["boss@example.com"]
    assert client.get(link({"admin": boss})).status_code == 200
    url = link({"admin": boss})
    db.exec(sa.update(User).where(User.id == boss).values(is_admin=False))
    db.commit()
    assert_refused(client.get(url), 403, ADMINS_ONLY)


def test_a_link_of_a_deleted_admin_is_refused(client, people, db):
    boss = people["boss@example.com"]
    url = link({"admin": boss})
    db.exec(sa.delete(AuthSession).where(AuthSession.user_id == boss))
    db.exec(sa.delete(User).where(User.id == boss))
    db.commit()
    assert_refused(client.get(url), 403, SESSION_ENDED)


def test_a_link_stops_working_when_its_admin_signs_out(client, people, db):
    boss = people["boss@example.com"]
    assert client.get(link({"admin": boss})).status_code == 200
    url = link({"admin": boss})
    sessions.revoke_session(db, TOKEN_OF[boss], now=utcnow())
    assert_refused(client.get(url), 403, SESSION_ENDED)


def test_a_link_naming_someone_elses_session_is_refused(client, people):
    boss, carl = people["boss@example.com"], people["carl@example.com"]
    assert_refused(
        client.get(link({"admin": boss, "session": SESSION_OF[carl]})), 403, SESSION_ENDED
    )


@pytest.mark.parametrize("session", [None, "1", 1.5, True, 10**9])
def test_a_link_without_a_live_session_id_is_refused(client, people, session):
    view = {"admin": people["boss@example.com"], "session": session}
    assert_refused(client.get(link(view)), 403, SESSION_ENDED)


@pytest.mark.parametrize("twofa", ["enabled", "activated!", "activated; drop table app_user"])
def test_a_link_with_an_invalid_filter_is_a_bad_request(client, people, twofa):
    response = client.get(link({"admin": people["boss@example.com"], "twofa": twofa}))
    assert response.status_code == 400
    assert "2FA filter" in response.text
    assert response.headers["content-type"].startswith("text/plain")


def test_a_link_with_an_invalid_sort_is_a_bad_request(client, people):
    response = client.get(link({"admin": people["boss@example.com"], "sort": "password_hash"}))
    assert response.status_code == 400
    assert "sort" in response.text


def test_only_get_is_allowed(client, people):
    response = client.post(link({"admin": people["boss@example.com"]}))
    assert response.status_code == 405


def test_a_link_works_once(client, people):
    url = link({"admin": people["boss@example.com"]})
    assert client.get(url).status_code == 200
    again = client.get(url)
    assert_refused(again, 403, "This export link has been used already.")


def test_a_link_of_an_admin_without_2fa_is_refused(client, people, db):
    boss = db.get(User, people["boss@example.com"])
    boss.totp_secret, boss.totp_enabled_at, boss.twofa_active = None, None, False
    db.add(boss)
    db.commit()
    assert_refused(client.get(link({"admin": boss.id})), 403, ADMINS_ONLY)
