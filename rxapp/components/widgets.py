"""Small shared widgets: the one-time-code input, the 2FA status badge, the countdown."""

from __future__ import annotations

import json
from collections.abc import Callable

import reflex as rx
from reflex.vars.base import Var
from reflex.vars.function import FunctionStringVar
from reflex_base.utils.imports import ImportVar

from rxapp.components.early_submit import MARK_STALE, busy_until_answered
from rxapp.components.fields import described
from rxapp.components.layout import HEADING_ID, testid

NB_HYPHEN = "\u2011"  # keeps "6-digit" on one line
# Where focus goes when a dialog closes: back to the control that opened it (tracked by
# `OPENER_TRACKER`), else the first `[data-focus-fallback]`, else the page's heading; never
# out of a dialog opened meanwhile (a closed dialog's content can leave the page late, at
# the next render, which may be the one that opened the next dialog).
RETURN_FOCUS_JS = (
    "setTimeout(() => { if (document.activeElement?.closest("
    "'[role=dialog][data-state=open],[role=alertdialog][data-state=open]')) return; "
    "const o = window.__rxOpener; const el = (o && o.isConnected && "
    "o.offsetParent !== null) ? o : (document.querySelector('[data-focus-fallback]') || "
    f"document.getElementById('{HEADING_ID}')); if (el) el.focus(); }}, 0);"
)
OPENER_TRACKER = (
    "document.addEventListener('focusin', (e) => { const t = e.target; "
    "if (t instanceof HTMLElement && !t.closest('[role=dialog],[role=alertdialog]')) "
    "window.__rxOpener = t; }, true);"
)


def code_input(
    label: str,
    *,
    name: str,
    test_id: str,
    numeric_only: bool,
    hint: str = "",
    auto_focus: bool = True,
    error: rx.Var[str] | None = None,
    error_id: str = "",
) -> rx.Component:
    """A labelled input for a 6-digit code (or a backup code when not `numeric_only`);
    `error` (shown in `error_id`) marks it invalid and describes it while set."""
    attrs = {
        **testid(test_id),
        "autocomplete": "one-time-code",
        "inputmode": "numeric" if numeric_only else "text",
        "autocapitalize": "characters",
        "spellcheck": "false",
        **described(hint_id=f"{test_id}-hint" if hint else "", error=error, error_id=error_id),
    }
    return rx.vstack(
        rx.el.label(rx.text(label, size="2", weight="medium"), html_for=test_id),
        rx.input(
            id=test_id,
            name=name,
            size="3",
            width="100%",
            max_length=40,  # room for a pasted code with spaces around it
            placeholder="123 456" if numeric_only else "Code or backup code",
            required=True,
            auto_focus=auto_focus,
            font_family="ui-monospace, monospace",
            letter_spacing="0.08em",
            custom_attrs=attrs,
        ),
        rx.text(hint, id=f"{test_id}-hint", size="1", color_scheme="gray")
        if hint
        else rx.fragment(),
        spacing="1",
        width="100%",
    )


def status_badge(active: rx.Var[bool], *, test_id: str, size: str = "2") -> rx.Component:
    """Activated (green) or Not activated (grey); the text is the value, on one line."""
    props = {"size": size, "high_contrast": True, "white_space": "nowrap"}
    return rx.cond(
        active,
        rx.badge("Activated", color_scheme="green", custom_attrs=testid(test_id), **props),
        rx.badge("Not activated", color_scheme="gray", custom_attrs=testid(test_id), **props),
    )


DATE = "{year: 'numeric', month: 'short', day: 'numeric'}"
DATE_TIME = (
    "{year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', "
    "timeZoneName: 'short'}"
)
# One formatter per format for the whole page: `toLocaleString(undefined, options)` builds a
# new ICU formatter on every call (about 1 ms each in Chromium), so a page of dates (the
# profile's activity, the dashboard's rows) spent tens of milliseconds of its render on them.
# A formatter keeps the time zone it was made in: a reload follows a change of zone.
_FORMATTERS = "(globalThis.__rxappDateFormats ??= {})"


def _formatter(options: str) -> str:
    key = json.dumps(options)
    return f"({_FORMATTERS}[{key}] ??= new Intl.DateTimeFormat(undefined, {options}))"


# Makes the formatters before a page needs them (the first one loads the locale's data).
PREPARE_DATE_FORMATS = "; ".join(_formatter(options) for options in (DATE, DATE_TIME))


def _local_text(iso: rx.Var[str], options: str) -> rx.Var[str]:
    """`iso` (UTC, ISO 8601) formatted by the browser in the reader's time zone."""
    # An unparsable value shows the dash too: `format` throws on an invalid date.
    js = (
        f"((date) => isNaN(date) ? '—' : {_formatter(options)}.format(date))"
        f"(new Date(({iso}) || NaN))"
    )
    return Var(_js_expr=js, _var_type=str, _var_data=iso._get_all_var_data())


TIME_ZONE = Var(_js_expr="Intl.DateTimeFormat().resolvedOptions().timeZone", _var_type=str)


def local_time(iso: rx.Var[str], *, with_time: bool = True, **props: object) -> rx.Component:
    """A <time> shown in the browser's time zone (with the zone when `with_time`)."""
    return rx.el.time(
        _local_text(iso, DATE_TIME if with_time else DATE),
        date_time=iso,
        class_name="nowrap",
        **props,
    )


def _in_browser(body: str) -> FunctionStringVar:
    """A dialog event's handler run in the browser at once, with the event as `event`: not
    through Reflex's event queue (where it would wait behind an event still being
    answered)."""
    return FunctionStringVar.create(f"((event) => {{ {body} }})")


def kept_open_while_shown(test_id: str) -> dict[str, object]:
    """A dialog's props: neither Escape nor a click outside closes it while the element
    with `test_id` is on screen (what it shows would be lost for good); its own button
    does."""
    guard = _in_browser(
        f"if (document.querySelector('[data-testid={test_id}]')) event.preventDefault();"
    )
    return {"on_escape_key_down": guard, "on_interact_outside": guard}


def dialog_focus(*, start_at: str = "") -> dict[str, object]:
    """A dialog's focus handling: on close, focus goes back to the control that opened it;
    with `start_at`, the dialog opens with focus on that element (its top) instead of the
    first field."""
    props: dict[str, object] = {
        "on_close_auto_focus": _in_browser(f"event.preventDefault(); {RETURN_FOCUS_JS}")
    }
    if start_at:
        props["on_open_auto_focus"] = _in_browser(
            f"event.preventDefault(); document.getElementById('{start_at}')?.focus();"
        )
    return props


def countdown(seconds: rx.Var[int], *, test_id: str) -> rx.Component:
    """Seconds left, updated every second and silent to screen readers (see `announcer`)."""
    return rx.hstack(
        rx.icon("timer", size=16, aria_hidden="true"),
        rx.text(
            rx.el.span(seconds, custom_attrs=testid(test_id), font_weight="bold"),
            rx.cond(seconds == 1, " second left", " seconds left"),
            size="2",
        ),
        role="timer",
        aria_live="off",
        align="center",
        spacing="1",
    )


def announcer(text: rx.Var[str], *, test_id: str) -> rx.Component:
    """A polite live region, invisible on screen: screen readers say `text` when it changes.
    Keep it rendered while its content changes, or the change is never heard."""
    return rx.el.p(
        text,
        class_name="sr-only",
        aria_live="polite",
        aria_atomic="true",
        custom_attrs=testid(test_id),
    )


def dialog_actions(
    cancel_label: str,
    submit_label: str | rx.Var[str],
    *,
    test_id: str,
    answers: rx.Var[int],
    close: Callable[..., rx.Component] = rx.dialog.close,
    danger: bool = False,
) -> rx.Component:
    """A dialog's buttons: one that closes it unchanged, then the one that submits its form,
    busy from the submit until `answers` changes (see `components/early_submit.py`)."""
    return rx.hstack(
        close(rx.button(cancel_label, variant="soft", color_scheme="gray", type="button")),
        rx.button(
            submit_label,
            type="submit",
            custom_attrs={**testid(test_id), **busy_until_answered(answers)},
            **({"color_scheme": "red", "class_name": "danger"} if danger else {}),
        ),
        justify="end",
        spacing="3",
        width="100%",
    )


def scroll_region(table: rx.Component, *, label: str, **props: object) -> rx.Component:
    """A table that scrolls sideways on narrow screens, in a region reachable by keyboard
    and named for screen readers."""
    return rx.box(
        table,
        class_name="table-scroll",
        width="100%",
        tab_index=0,
        role="region",
        aria_label=label,
        **props,
    )


# Counts down in the browser (no round trip per second) from each answer that sets
# `seconds`; shown only while the error it belongs to (`message`) is. The visible line is a
# timer (silent, as `countdown`); the polite region beside it (as `announcer`) says once
# that the wait is over, and the form's error, whose "Try again in ..." is past then, is
# hidden as stale (`data-rx-stale`, as for a try the browser's checks stop: the next submit
# shows it again until its answer replaces it). Its text takes Radix Themes' classes for
# `rx.text(size="2", color_scheme="gray")`.
_WAIT_COUNTDOWN_JS = """function RxappWaitCountdown({seconds, restart, message, ...rest}) {
  const line = useRef(null);
  const [shown, setShown] = useState({left: 0, message: null});
  useEffect(() => {
    if (!seconds || !message) { setShown({left: 0, message: null}); return; }
    const end = performance.now() + seconds * 1000;
    const tick = () => {
      const left = Math.max(0, Math.ceil((end - performance.now()) / 1000));
      setShown((was) => (was.left === left && was.message === message ? was : {left, message}));
      return left;
    };
    tick();
    const timer = setInterval(() => { if (tick() === 0) clearInterval(timer); }, 250);
    return () => clearInterval(timer);
  }, [seconds, restart]);
  const over = shown.message !== null && shown.message === message && shown.left === 0;
  useEffect(() => {
    if (!over) return;
    line.current?.closest('form')?.querySelectorAll('[role=alert]')
      .forEach((alert) => window.MARK_STALE?.(alert));
  }, [over]);
  if (shown.message === null || shown.message !== message) return null;
  const {left} = shown;
  const when = left >= 60
    ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`
    : `${left} second${left === 1 ? '' : 's'}`;
  const done = left === 0 ? 'The wait is over: you can try again now.' : '';
  return createElement(Fragment, null,
    createElement('p', {...rest, ref: line, role: 'timer', 'aria-live': 'off',
      'aria-hidden': done ? 'true' : undefined, className: 'rt-Text rt-r-size-2',
      'data-accent-color': 'gray', style: {margin: 0}},
      done || `${when} left.`),
    createElement('p', {className: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true'}, done));
}""".replace("MARK_STALE", MARK_STALE)


def _react_imports(*names: str) -> dict[str, list[ImportVar]]:
    """React's own names that a component's custom code uses."""
    return {"react": [ImportVar(tag=name) for name in names]}


class WaitCountdown(rx.Component):
    """The time left of a throttle's wait, counted down in the browser (see `wait_countdown`)."""

    tag = "RxappWaitCountdown"

    seconds: Var[int]
    restart: Var[int]
    message: Var[str]

    def add_imports(self) -> dict[str, list[ImportVar]]:
        """React's names, for the custom code."""
        return _react_imports("useState", "useEffect", "useRef", "createElement", "Fragment")

    def add_custom_code(self) -> list[str]:
        """The component itself."""
        return [_WAIT_COUNTDOWN_JS]


def wait_countdown(
    seconds: rx.Var[int], *, message: rx.Var[str], answers: rx.Var[int], test_id: str
) -> rx.Component:
    """While `message` (an error that tells a wait of `seconds`) is shown, the time left,
    counted down ("4 seconds left.") to "The wait is over: you can try again now." (said
    once to screen readers); each answer (`answers` changes) starts it again."""
    return WaitCountdown.create(
        seconds=seconds, restart=answers, message=message, custom_attrs=testid(test_id)
    )


_ON_RETURN_JS = """function RxappOnReturn({onReturn}) {
  const handler = useRef(onReturn);
  handler.current = onReturn;
  useEffect(() => {
    let last = Date.now();  // the page's own load has just read what it shows
    const fire = () => {
      if (document.visibilityState !== 'visible' || Date.now() - last < 2000) return;
      last = Date.now();
      handler.current?.();
    };
    document.addEventListener('visibilitychange', fire);
    window.addEventListener('focus', fire);
    return () => {
      document.removeEventListener('visibilitychange', fire);
      window.removeEventListener('focus', fire);
    };
  }, []);
  return null;
}"""


class OnReturn(rx.Component):
    """Fires `on_return` when the person comes back to the tab (see `on_return`)."""

    tag = "RxappOnReturn"

    on_return: rx.EventHandler[rx.event.no_args_event_spec]

    def add_imports(self) -> dict[str, list[ImportVar]]:
        """React's names, for the custom code."""
        return _react_imports("useRef", "useEffect")

    def add_custom_code(self) -> list[str]:
        """The component itself."""
        return [_ON_RETURN_JS]


def on_return(handler: rx.event.EventType[()]) -> rx.Component:
    """Run `handler` when the person comes back to this tab or window (shown again, or
    focused; at most every 2 seconds), so that what another tab changed meanwhile shows."""
    return OnReturn.create(on_return=handler)
