"""`rxapp cluster ...` without a running cluster, and the note that keeps an operator from
creating accounts in the embedded database by mistake."""

from __future__ import annotations

import io
import sys

import pytest

from rxapp import cli
from rxapp.settings import get_settings


@pytest.mark.parametrize("args", [["status"], ["restart", "1"], ["restart", "x"]])
def test_without_a_running_cluster_each_command_says_so_in_one_line(
    args, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("RXAPP_CLUSTER_DIR", str(tmp_path))
    assert cli.main(["cluster", *args]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("rxapp: error: no cluster is running") and err.count("\n") == 1


def test_an_unknown_cluster_action_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["cluster", "explode"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_without_reflex_db_url_the_command_names_the_embedded_database(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.delenv("REFLEX_DB_URL", raising=False)
    monkeypatch.setattr("rxapp.settings.DEFAULT_DB_URL", f"sqlite:///{tmp_path / 'x.db'}")
    get_settings.cache_clear()
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-password\n"))
    try:
        code = cli.main(["create-user", "someone@example.com", "--password-stdin"])
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "REFLEX_DB_URL is not set: using the embedded database sqlite:///" in err
    assert code == 1 and "there is no database at " in err  # never created
