"""`make run`'s output: no misleading hints, one clear line when the app is ready."""

from __future__ import annotations

from rxapp.serve import readable

REFLEX_OUTPUT = [
    "Info: Initializing the web directory.\n",
    "Success: Initialized rxapp. Run `uv run reflex run` to start the app.\n",
    "App running at: http://0.0.0.0:3150/\n",
]


def test_the_ready_line_names_localhost_and_the_uv_hint_is_gone():
    shown = "\n".join(readable(REFLEX_OUTPUT, port=3150))

    assert "uv run" not in shown
    assert "0.0.0.0" not in shown
    assert "rxapp is ready: http://localhost:3150" in shown
    assert "Initializing the web directory." in shown
