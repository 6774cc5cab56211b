"""Forms usable from the prerendered HTML, before the page's scripts have taken over.

The app's forms submit over the websocket, never natively: a native submit would send the
password in the URL of a GET. `HOLD_EARLY_SUBMITS` (in every page's head, hashed into the
CSP) stops every native submit of a form without an `action`. Until React has committed the
page and its on_load handlers have run (`live_marker` sets `window.__rxLive`), a submit is
also kept from React (which may be hydrating) and from the server (an on_load that runs after
it could wipe its answer), and made once more as soon as the page is live: what a person
typed and sent early is neither lost, nor leaked, nor sent twice.

A submit button that carries `ANSWERED` (a counter the form's handler increments) is marked
`aria-busy` from the submit until the server's answer changes the counter, or for 20 s at
most: the button shows progress without an event of its own (`assets/styles.css`). A
sign-in step that succeeded also sets the button's `LEAVING` mark: it goes on showing
progress, and takes no second submit, until the next page (its scripts perhaps still
loading on a slow network) has replaced the form; `aria-busy` still ends with the answer,
as flows that wait for it expect. While it
is busy, another submit of its form (a second click, Enter pressed twice) is dropped: one
action sends one request, so a doubled press neither checks a password twice nor counts a
mistyped one as two failures. The replay of a held submit is not a second submit. An event
that fails on the server sends no answer: `release_busy_buttons` (sent with the error's
message) ends every busy mark, so the form can be sent again at once. A submit that the
browser's own validation stops hides the form's last answer (see the script).
"""

from __future__ import annotations

import reflex as rx
from reflex.event import EventSpec
from reflex_base.vars.base import Var, VarData

# The attribute of a submit button that changes when the server has answered its form.
ANSWERED = "data-answered"
# The attribute of a submit button whose step succeeded: the next page is on its way.
LEAVING = "data-leaving"
# The window event that ends every busy mark: an event failed, no answer will come.
_UNANSWERED = "rx-unanswered"
RELEASE_BUSY_BUTTONS = f"window.dispatchEvent(new Event('{_UNANSWERED}'))"
# What shows a form's last answer: its error (an alert) and a wait's countdown (a timer).
_ANSWER_SHOWN = "[role=alert],[role=timer]"
# The page's function that hides one of those as stale (`window.<name>(element)`).
MARK_STALE = "__rxStale"

HOLD_EARLY_SUBMITS = (
    "document.addEventListener('submit', (e) => { const f = e.target;"
    " if (!(f instanceof HTMLFormElement) || f.hasAttribute('action')) return;"
    " e.preventDefault();"
    " const replay = f.dataset.rxReplay === '1';"
    f" const b = e.submitter || f.querySelector('[{ANSWERED}]');"
    f" if (b && b.hasAttribute('{ANSWERED}') && !replay) {{"
    " if (b.getAttribute('aria-busy') === 'true' ||"
    f" b.getAttribute('{LEAVING}') === 'true') {{ e.stopImmediatePropagation(); return; }}"
    " b.setAttribute('aria-busy', 'true');"
    f" const seen = b.getAttribute('{ANSWERED}'); const done = () => {{ o.disconnect();"
    f" clearTimeout(t); removeEventListener('{_UNANSWERED}', done);"
    " b.removeAttribute('aria-busy'); };"
    f" const o = new MutationObserver(() => {{ if (b.getAttribute('{ANSWERED}') !== seen)"
    f" done(); }}); o.observe(b, {{attributes: true, attributeFilter: ['{ANSWERED}']}});"
    f" addEventListener('{_UNANSWERED}', done); const t = setTimeout(done, 20000); }}"
    " if (window.__rxLive) return; e.stopImmediatePropagation();"
    " if (f.dataset.rxHeld) return; f.dataset.rxHeld = '1';"
    " const again = (n) => { if (window.__rxLive && f.isConnected) {"
    " delete f.dataset.rxHeld; f.dataset.rxReplay = '1'; f.requestSubmit();"
    " delete f.dataset.rxReplay; }"
    " else if (n > 0) setTimeout(again, 25, n - 1); else delete f.dataset.rxHeld; };"
    " again(2400); }, true);"
    # A submit the browser's own checks stop (a required field left empty) hides the last
    # answer's error and countdown (`data-rx-stale`, assets/styles.css), which would sit
    # beside the browser's bubble as if about this try; the next submit shows them again
    # until its answer replaces them. A stale error also lends out its id, so the field's
    # aria-describedby (which names hidden elements too) no longer reads it out.
    f" window.{MARK_STALE} = (a) => {{ a.dataset.rxStale = '1';"
    " if (a.id) { a.dataset.rxId = a.id; a.removeAttribute('id'); } };"
    " document.addEventListener('invalid', (e) => { const f = e.target.form;"
    " if (!f || f.hasAttribute('action')) return;"
    f" f.querySelectorAll('{_ANSWER_SHOWN}').forEach(window.{MARK_STALE}); }}, true);"
    " document.addEventListener('submit', (e) => { const f = e.target;"
    " if (f instanceof HTMLFormElement) f.querySelectorAll('[data-rx-stale]').forEach((a) => {"
    " delete a.dataset.rxStale; if (a.dataset.rxId) { a.id = a.dataset.rxId;"
    " delete a.dataset.rxId; } }); }, true);"
)


def busy_until_answered(answers: Var[int]) -> dict[str, Var[int]]:
    """The attribute that marks a form's submit button busy until `answers` changes."""
    return {ANSWERED: answers}


def release_busy_buttons() -> EventSpec:
    """The script that ends every busy mark of the page: its event failed on the server."""
    return rx.call_script(RELEASE_BUSY_BUTTONS)


class LiveMarker(rx.Fragment):
    """Marks the page live once React has committed it and the page's on_load handlers have
    run (renders nothing). Reflex sends a route's on_load events back in answer to its
    hydration: a submit sent before then would reach the server before them, and an on_load
    that clears the form's message would wipe the answer."""

    def add_hooks(self) -> list[str | Var]:
        """The effect that follows Reflex's `is_hydrated` (set once on_load has run)."""
        hydrated = rx.State.is_hydrated
        code = f"useEffect(() => {{ window.__rxLive = {hydrated}; }}, [{hydrated}]);"
        data = VarData.merge(
            hydrated._get_all_var_data(), VarData(imports={"react": ["useEffect"]})
        )
        return [Var(_js_expr=code, _var_data=data)]


def live_marker() -> rx.Component:
    """Put on every page (see `layout.page`)."""
    return LiveMarker.create()
