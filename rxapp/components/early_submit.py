"""Forms usable from the prerendered HTML, before the page's scripts have taken over.

The app's forms submit over the websocket, never natively: a native submit would send the
password in the URL of a GET. This script (in every page's head, hashed into the CSP) stops
every native submit of a form without an `action`; a submit made before React has hydrated
the form is held and made again once it has (Reflex then queues the event until the
websocket is connected), so what a person typed and sent early is neither lost nor leaked.
"""

from __future__ import annotations

HOLD_EARLY_SUBMITS = (
    "(() => { const live = (f) => Object.keys(f).some((k) => k.startsWith('__reactProps$'));"
    " document.addEventListener('submit', (e) => { const f = e.target;"
    " if (!(f instanceof HTMLFormElement) || f.hasAttribute('action')) return;"
    " e.preventDefault(); if (live(f) || f.dataset.rxHeld) return; f.dataset.rxHeld = '1';"
    " const again = (n) => { if (live(f)) { delete f.dataset.rxHeld; f.requestSubmit(); }"
    " else if (n > 0) setTimeout(again, 25, n - 1); else delete f.dataset.rxHeld; };"
    " again(1200); }, true); })();"
)
