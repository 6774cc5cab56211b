"""Quiet refusal of forged events, before Reflex queues them.

Any browser can send any event name with any payload over the websocket. Reflex answers an
unknown name, a missing or extra argument, or a value its type conversion chokes on with a
traceback, and its error block prints the whole event (payload and client token) into the
log. Here every event is checked first against the handler it names; a refused one leaves
one warning line without payload or token, nothing reaches the handler, and the tab is told
(its busy buttons freed, a message saying why), as bad input a person pasted gets refused
here too (a NUL character, for one).
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import types
import typing
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from functools import cache, lru_cache
from typing import Any, Union, get_args, get_origin

import reflex as rx
from reflex.state import StateUpdate
from reflex_base.constants.route import RouteVar
from reflex_base.constants.state import FIELD_MARKER
from reflex_base.event import Event
from reflex_base.utils.form import FORM_DATA_ENTRIES_KEY
from socketio.exceptions import ConnectionRefusedError

from rxapp.components.early_submit import release_busy_buttons
from rxapp.log_budget import LogBudget, source_of

logger = logging.getLogger("rxapp.events")

MAX_EVENT_CHARS = 64 * 1024
# A person pasting bad text now and then never comes near this on one connection.
MAX_REFUSALS_PER_CONNECTION = 20
REMEMBERED_CONNECTIONS = 10_000
MAX_VAR_PATH = 300  # the app's own browser-storage var paths are about 80 characters
MAX_REFUSAL_LINES_PER_MINUTE = 200
# One client address's share: another client's refusals are still logged during a flood.
MAX_REFUSAL_LINES_PER_SOURCE = MAX_REFUSAL_LINES_PER_MINUTE // 2
MAX_DEPTH = 6
MAX_SAFE_INT = 2**53 - 1
_SIMPLE_TYPES = (str, int, float, bool, dict, list)
_SHOWN_NAME = re.compile(r"[^A-Za-z0-9_.]")


class RefusedEventError(ValueError):
    """Why an event is refused (never quoting what it carried)."""


_CONNECTING: ContextVar[bool] = ContextVar("rxapp_connecting", default=False)


def install(app: rx.App) -> None:
    """Check every event of `app`'s websocket before Reflex sees it. A refused event is
    dropped; a connection whose very first event is refused is refused altogether, so it can
    never sit on a tab's state that Reflex was not told it owns."""
    namespace = app.event_namespace
    if namespace is None:
        return
    forward_event: Callable[[str, Any], Awaitable[None]] = namespace.on_event
    forward_connect: Callable[..., Awaitable[None]] = namespace.on_connect
    # Refused events per connection (sid), the oldest connections forgotten first: kept after
    # a disconnect, so that events already queued for a closed connection stay silent.
    refusals: OrderedDict[str, int] = OrderedDict()
    budget = LogBudget(
        logger,
        MAX_REFUSAL_LINES_PER_MINUTE,
        "refused events",
        per_source=MAX_REFUSAL_LINES_PER_SOURCE,
    )

    async def on_connect(sid: str, environ: dict, auth: Any = None) -> None:
        token = _CONNECTING.set(True)
        try:
            await forward_connect(sid, environ, auth)
        finally:
            _CONNECTING.reset(token)

    async def on_event(sid: str, data: Any) -> None:
        try:
            check_event(data)
        except RefusedEventError as refusal:
            source = _source(namespace, sid)
            if _CONNECTING.get():
                budget.warn("rxapp: refused an event from a browser: %s", refusal, source=source)
                # The connection's first event: Reflex records the new connection on the
                # tab's state while handling it, so a connection whose first event is
                # refused must not stay open on a state that still names an older one.
                raise ConnectionRefusedError("refused") from None
            count = refusals[sid] = refusals.get(sid, 0) + 1
            refusals.move_to_end(sid)
            while len(refusals) > REMEMBERED_CONNECTIONS:
                refusals.popitem(last=False)
            if count > MAX_REFUSALS_PER_CONNECTION:
                return  # its connection is closing or closed: nothing more to say
            budget.warn("rxapp: refused an event from a browser: %s", refusal, source=source)
            if count == MAX_REFUSALS_PER_CONNECTION:
                # No page sends this many: a script does. Its connection ends, and with it
                # the log lines and answers it could cost.
                budget.warn(
                    "rxapp: closed a connection after %d refused events", count, source=source
                )
                await namespace.disconnect(sid)
                return
            await _answer_refused(namespace, sid)
            return
        await forward_event(sid, data)

    namespace.on_connect = on_connect  # type: ignore[method-assign]
    namespace.on_event = on_event  # type: ignore[method-assign]


def _source(namespace: Any, sid: str) -> str:
    """The client address of connection `sid` as Reflex recorded it at connect (honouring
    the trusted proxy hops), as a log budget's source."""
    connection = getattr(namespace, "_static_router_data", {}).get(sid) or {}
    return source_of(str(connection.get(RouteVar.CLIENT_IP, "")))


REFUSED_MESSAGE = (
    "That could not be sent: it holds a character or an amount of text this page does not "
    "accept. Check what you typed or pasted, and try again."
)


async def _answer_refused(namespace: Any, sid: str) -> None:
    """Tell the tab that sent a refused event: the form it came from is free again and a
    message says why, instead of a button busy with no answer coming."""
    token = namespace.sid_to_token.get(sid)
    if not token:
        return
    events = Event.from_event_type([release_busy_buttons(), rx.toast.error(REFUSED_MESSAGE)])
    await namespace.emit_update(StateUpdate(events=events), token)


def check_event(data: object) -> None:
    """Raise RefusedEventError unless `data` is an event a page of this app could have sent."""
    if not isinstance(data, dict):
        raise RefusedEventError("not an event object")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise RefusedEventError("no handler name")
    parameters = _handler_parameters(name)
    if parameters is None:
        raise RefusedEventError(f"unknown handler {_shown(name)}")
    try:
        size = len(json.dumps(data, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError):
        raise RefusedEventError(f"{_shown(name)}: a value JSON cannot carry") from None
    if size > MAX_EVENT_CHARS:
        raise RefusedEventError(f"{_shown(name)}: event too large ({size} characters)")
    _check_router_data(data.get("router_data"), name)
    payload = data.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise RefusedEventError(f"{_shown(name)}: payload is not an object")
    _check_values(payload, name, depth=0)
    if _handler_name(name) == "setvar":
        # Every state has Reflex's generic setter; the app's pages set vars through their
        # own handlers only, and an unknown var name makes Reflex raise.
        raise RefusedEventError(f"{_shown(name)}: the generic setter is not used here")
    for value in payload.values():
        if isinstance(value, dict) and FORM_DATA_ENTRIES_KEY in value:
            _check_form_entries(value, name)
    unexpected = set(payload) - set(parameters)
    if unexpected:
        raise RefusedEventError(f"{_shown(name)}: {len(unexpected)} unexpected argument(s)")
    for parameter_name, (required, expected) in parameters.items():
        if parameter_name not in payload:
            if required:
                raise RefusedEventError(f"{_shown(name)}: missing argument {parameter_name}")
            continue
        if expected is not None and not _matches(payload[parameter_name], expected):
            raise RefusedEventError(f"{_shown(name)}: argument {parameter_name} has the wrong type")
    if "vars" in parameters and _takes_client_storage(name):
        _check_client_storage(payload.get("vars") or {}, name)


def _handler_name(name: str) -> str:
    return name.rpartition(".")[2]


_FORM_VALUE_TYPES = (str, int, float, bool, type(None))


def _form_value(value: object) -> bool:
    """A field's value as a page sends it: a plain value, or a list of them (a control's
    several values)."""
    if isinstance(value, list):
        return all(isinstance(item, _FORM_VALUE_TYPES) for item in value)
    return isinstance(value, _FORM_VALUE_TYPES)


def _check_form_entries(value: dict[str, Any], name: str) -> None:
    """A form's fields as the page sends them: `{FORM_DATA_ENTRIES_KEY: [[name, value],
    ...]}`, each name text (Reflex raises on entries of another shape: not pairs, say)."""
    entries = value[FORM_DATA_ENTRIES_KEY]
    well_formed = (
        len(value) == 1
        and isinstance(entries, list)
        and all(
            isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and _form_value(entry[1])
            for entry in entries
        )
    )
    if not well_formed:
        raise RefusedEventError(f"{_shown(name)}: malformed form data")


def _takes_client_storage(name: str) -> bool:
    """Whether a handler with a `vars` argument is one of Reflex's own that set
    browser-storage vars by name (`update_vars_internal`, `hydrate_and_load`)."""
    handler = _registered(name)
    return handler is not None and handler.fn.__module__ == "reflex.state"


def _check_client_storage(values: dict[str, Any], name: str) -> None:
    """Each key must name a browser-storage var of one of the app's states, as the page's
    own keys do; Reflex answers any other state path with a traceback."""
    for key in values:
        state_name, _, var_name = key.rpartition(".")
        if len(key) > MAX_VAR_PATH or not _is_client_storage(
            state_name, var_name.removesuffix(FIELD_MARKER)
        ):
            raise RefusedEventError(f"{_shown(name)}: no such browser-storage var")


@lru_cache(maxsize=64)  # bounded, as are the names it keeps (MAX_VAR_PATH)
def _is_client_storage(state_name: str, var_name: str) -> bool:
    try:
        return bool(rx.State.get_class_substate(state_name)._is_client_storage(var_name))
    except Exception:  # any path Reflex cannot resolve
        return False


def _check_router_data(router_data: object, name: str) -> None:
    """What the frontend sends: the page's path and its query string."""
    if router_data is None:
        return
    if not isinstance(router_data, dict):
        raise RefusedEventError(f"{_shown(name)}: malformed router data")
    for key in ("pathname", "asPath"):
        if key in router_data and not isinstance(router_data[key], str):
            raise RefusedEventError(f"{_shown(name)}: malformed router data")
    query = router_data.get("query")
    if query is not None and not (
        isinstance(query, dict) and all(_query_value(k, v) for k, v in query.items())
    ):
        raise RefusedEventError(f"{_shown(name)}: malformed query")


def _query_value(key: object, value: object) -> bool:
    """A query parameter or route parameter: text, or a list of texts (a catch-all route)."""
    if not isinstance(key, str):
        return False
    if isinstance(value, list):
        return all(isinstance(item, str) for item in value)
    return isinstance(value, str)


def _check_values(value: object, name: str, *, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise RefusedEventError(f"{_shown(name)}: nested too deeply")
    if isinstance(value, str):
        if "\x00" in value:
            raise RefusedEventError(f"{_shown(name)}: NUL byte in a value")
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise RefusedEventError(f"{_shown(name)}: number out of range")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_values(key, name, depth=depth + 1)
            _check_values(item, name, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_values(item, name, depth=depth + 1)


def _matches(value: object, expected: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in expected
    if isinstance(value, int) and float in expected:
        return True
    return isinstance(value, expected)


def _handler_parameters(name: str) -> dict[str, tuple[bool, tuple[type, ...] | None]] | None:
    """The named handler's arguments: whether each is required and the JSON types it takes
    (None: not checked here). None when no such handler exists."""
    handler = _registered(name)
    return None if handler is None else _parameters_of(handler.fn)


@cache
def _parameters_of(fn: Callable[..., Any]) -> dict[str, tuple[bool, tuple[type, ...] | None]]:
    try:
        hints = types_of(fn)
    except Exception:
        hints = {}
    parameters: dict[str, tuple[bool, tuple[type, ...] | None]] = {}
    for index, parameter in enumerate(inspect.signature(fn).parameters.values()):
        if index == 0 or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        required = parameter.default is inspect.Parameter.empty
        parameters[parameter.name] = (required, _json_types(hints.get(parameter.name)))
    return parameters


def types_of(fn: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations of a handler function."""
    return typing.get_type_hints(fn)


def _json_types(hint: object) -> tuple[type, ...] | None:
    """The simple JSON-level types an annotation admits, or None to leave it unchecked."""
    if hint in _SIMPLE_TYPES:
        return (hint,)  # type: ignore[return-value]
    origin = get_origin(hint)
    if origin in (dict, list):
        return (origin,)
    if origin in (Union, types.UnionType):
        admitted: list[type] = []
        for arm in get_args(hint):
            if arm is type(None):
                admitted.append(type(None))
                continue
            arm_types = _json_types(arm)
            if arm_types is None:
                return None
            admitted.extend(arm_types)
        return tuple(admitted)
    return None


def _registered(name: str) -> Any | None:
    """The registered event handler of that full name (as the browser names it), or None."""
    from reflex_base.registry import RegistrationContext

    registered = RegistrationContext.get().event_handlers.get(name)
    return None if registered is None else registered.handler


def _shown(name: str) -> str:
    """The handler's name for the log: a known one by its state and name (the full path
    would be cut short), anything else by its first characters."""
    if _handler_parameters(name) is not None:
        name = ".".join(name.rsplit(".", 2)[-2:])
    return _SHOWN_NAME.sub("?", name[:80])
