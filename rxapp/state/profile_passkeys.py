"""The profile's Passkeys card: add (named) and remove, each after a fresh proof (with 2FA on,
one entered after the sign-in: `reauth.may_change_methods`), and rename. The first passkey of
an account turns 2FA on and brings its backup codes."""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlmodel import Session

from rxapp.services import reauth
from rxapp.services.clock import utcnow
from rxapp.services.mfa.passkeys import flows
from rxapp.services.sessions import SignedIn
from rxapp.state import passkeys as browser
from rxapp.state.auth import SignedOut
from rxapp.state.profile import AccountView, ProfileState, read_account
from rxapp.state.profile_dialogs import BackupCodesState, ReauthState
from rxapp.whole_numbers import parse_whole

NOT_FRESH = "fresh-proof"


def _passkey_id(raw: object) -> int | None:
    """A passkey id as the browser sends it back (the row's `id`), or None."""
    return parse_whole(raw)


class PasskeysState(ProfileState):
    """The dialogs of the Passkeys card."""

    add_open: bool = False
    add_error: str = ""
    # The browser is asking the authenticator: the Save button waits.
    waiting: bool = False
    rename_open: bool = False
    rename_error: str = ""
    rename_name: str = ""
    remove_open: bool = False
    remove_name: str = ""
    # Submissions of the add and rename forms answered: Save is busy until this changes.
    answers: int = 0
    _target: int = 0

    def _close_all(self) -> None:
        self.add_open = self.rename_open = self.remove_open = self.waiting = False
        self.add_error = self.rename_error = ""
        self._target = 0

    def _open_add(self) -> None:
        self._close_all()
        self.add_open = True

    def _open_remove(self) -> None:
        name = next((p["name"] for p in self.passkeys if p["id"] == str(self._target)), "")
        self.remove_name = name
        self.remove_open = bool(name)

    async def _fresh_or_ask(self, purpose: str) -> bool | None:
        """True when the session proved itself recently; else ask for a proof (False);
        None when signed out."""

        def check(db: Session, signed_in: SignedIn) -> tuple[bool, AccountView]:
            return reauth.may_change_methods(signed_in, now=utcnow()), read_account(db, signed_in)

        result = await self._as_user(check)
        if isinstance(result, SignedOut):
            return None
        fresh, view = result
        self._apply(view)
        if not fresh:
            (await self.get_state(ReauthState))._ask(purpose, view)
        return fresh

    # --- adding ------------------------------------------------------------------------------

    @rx.event
    async def start_add(self) -> Any:
        """Add a passkey: after a fresh proof, ask for its name."""
        return await self._start_add()

    async def _start_add(self) -> Any:
        fresh = await self._fresh_or_ask("passkey_add")
        if fresh is None:
            return self._to_login()
        if fresh:
            self._open_add()
        return None

    @rx.event
    async def save(self, form: dict) -> Any:
        """Name given: ask the browser to create the passkey (options from the server)."""
        self.answers += 1
        name = form.get("name")
        rp = browser.relying_party(self.router.headers.origin)
        if rp is None:
            self.add_error = browser.UNAVAILABLE
            return None

        binding = browser.session_binding

        def begin(db: Session, signed_in: SignedIn) -> tuple[str, str]:
            if not reauth.may_change_methods(signed_in, now=utcnow()):
                return "", NOT_FRESH
            return flows.begin_registration(
                db, signed_in.user, rp, binding(signed_in), name, now=utcnow()
            )

        result = await self._as_user(begin)
        if isinstance(result, SignedOut):
            self._close_all()
            return self._to_login()
        options, problem = result
        if problem == NOT_FRESH:
            self.add_open = False
            return await self._start_add()
        if problem:
            self.add_error = problem
            return None
        self.add_error = ""
        self.waiting = True
        return browser.in_browser("create", options, PasskeysState.finish_add)

    @rx.event
    async def finish_add(self, result: str) -> Any:
        """The browser's answer: store the passkey if it holds."""
        self.waiting = False
        rp = browser.relying_party(self.router.headers.origin)
        if rp is None:
            self.add_error = browser.UNAVAILABLE
            return None
        binding = browser.session_binding

        def finish(db: Session, signed_in: SignedIn) -> tuple[flows.Registered, AccountView]:
            registered = flows.finish_registration(
                db,
                signed_in.user.id,
                rp,
                binding(signed_in),
                result,
                now=utcnow(),
                keep_session_id=signed_in.session.id,
            )
            return registered, read_account(db, signed_in)

        outcome = await self._as_user(finish)
        if isinstance(outcome, SignedOut):
            self._close_all()
            return self._to_login()
        registered, view = outcome
        self._apply(view)
        if not registered.ok:
            self.add_error = registered.message
            return None
        self._close_all()
        if registered.turned_on:
            return await (await self.get_state(BackupCodesState))._new_batch(first=True)
        return rx.toast("Passkey added")

    @rx.event
    def close_add(self, _open: object = False) -> None:
        """Close the add dialog without adding anything."""
        self._close_all()

    # --- renaming ----------------------------------------------------------------------------

    @rx.event
    def start_rename(self, passkey_id: str) -> None:
        """Open the rename dialog of one passkey."""
        target = _passkey_id(passkey_id)
        row = next((p for p in self.passkeys if p["id"] == passkey_id), None)
        if target is None or row is None:
            return
        self._close_all()
        self._target = target
        self.rename_name = row["name"]
        self.rename_open = True

    @rx.event
    async def save_rename(self, form: dict) -> Any:
        """Rename the passkey."""
        self.answers += 1
        name, target = form.get("name"), self._target

        def rename(db: Session, signed_in: SignedIn) -> tuple[str, AccountView]:
            problem = flows.rename(db, signed_in.user.id, target, name, now=utcnow())
            return problem, read_account(db, signed_in)

        result = await self._as_user(rename)
        if isinstance(result, SignedOut):
            self._close_all()
            return self._to_login()
        problem, view = result
        self._apply(view)
        if problem:
            self.rename_error = problem
            return None
        self._close_all()
        return None

    @rx.event
    def close_rename(self, _open: object = False) -> None:
        """Keep the name."""
        self._close_all()

    # --- removing ----------------------------------------------------------------------------

    @rx.event
    async def start_remove(self, passkey_id: str) -> Any:
        """Remove a passkey: after a fresh proof, ask to confirm."""
        target = _passkey_id(passkey_id)
        if target is None:
            return None
        return await self._start_remove(target)

    async def _start_remove(self, target: int) -> Any:
        self._close_all()
        self._target = target
        fresh = await self._fresh_or_ask("passkey_remove")
        if fresh is None:
            return self._to_login()
        if fresh:
            self._open_remove()
        return None

    @rx.event
    async def confirm_remove(self) -> Any:
        """Remove it (the proof must still be fresh)."""
        target = self._target
        device = self._proven_device()

        def remove(db: Session, signed_in: SignedIn) -> tuple[bool, AccountView]:
            if not reauth.may_change_methods(signed_in, now=utcnow()):
                return False, read_account(db, signed_in)
            removed = flows.remove(
                db,
                signed_in.user.id,
                target,
                now=utcnow(),
                keep_session_id=signed_in.session.id,
                keep_device=device,
            )
            return removed, read_account(db, signed_in)

        result = await self._as_user(remove)
        if isinstance(result, SignedOut):
            self._close_all()
            return self._to_login()
        removed, view = result
        self._apply(view)
        if not removed:
            self.remove_open = False
            return await self._start_remove(target)
        self._close_all()
        return rx.toast("Passkey removed. Your other devices were signed out.")

    @rx.event
    def close_remove(self, _open: object = False) -> None:
        """Keep the passkey."""
        self._close_all()
