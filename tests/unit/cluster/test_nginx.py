"""The proxy's configuration, rendered and checked by nginx itself (`nginx -t`)."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rxapp.cluster import config, nginx
from rxapp.cluster.__main__ import main
from rxapp.runtime import free_port
from rxapp.testing import wait_until

UPSTREAMS = ["127.0.0.1:4101", "127.0.0.1:4102"]


def _render(static: Path) -> str:
    return nginx.render(config.load(port=4100), UPSTREAMS, static)


def _block(text: str, opening: str) -> str:
    return text.split(opening, 1)[1].split("}", 1)[0]


def test_least_conn_over_every_instance_on_all_interfaces(operator_env, tmp_path):
    text = _render(tmp_path)
    pool = _block(text, "upstream rxapp_pool {")
    assert "least_conn;" in pool
    assert "server 127.0.0.1:4101 " in pool and "server 127.0.0.1:4102 " in pool
    assert "listen 4100;" in text
    assert "worker_processes auto;" in text and "worker_connections 8192;" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text  # websockets pass through
    assert f"root {tmp_path};" in text


def test_the_routing_cookie_is_ignored_unless_debug_routing_is_on(operator_env, tmp_path):
    assert "cookie_rxapp_instance" not in _render(tmp_path)
    operator_env.setenv("RXAPP_DEBUG_ROUTING", "1")
    text = _render(tmp_path)
    pinned = _block(text, "upstream rxapp_instance_1 {")
    assert "server 127.0.0.1:4101 max_fails" in pinned
    assert "server 127.0.0.1:4102 backup" in pinned
    assert '"2" rxapp_instance_2;' in _block(text, "map $cookie_rxapp_instance $rxapp_upstream {")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("tls", [False, True])
def test_nginx_accepts_the_rendered_configuration(operator_env, tmp_path, tls):
    try:
        executable = nginx.nginx_executable()
    except config.ClusterError as error:
        pytest.skip(str(error))
    operator_env.setenv("RXAPP_LISTEN", "127.0.0.1:4100")
    if tls:
        cert, key = _self_signed(tmp_path)
        operator_env.setenv("RXAPP_TLS_CERT", str(cert))
        operator_env.setenv("RXAPP_TLS_KEY", str(key))
    loaded = config.load(port=4100)
    conf = nginx.write(loaded, UPSTREAMS, tmp_path)
    text = conf.read_text()
    assert ("listen 127.0.0.1:4100 ssl;" in text) is tls
    assert ("ssl_certificate " in text) is tls
    checked = subprocess.run(
        [executable, "-t", "-c", str(conf), "-p", str(loaded.run_dir), "-g", "daemon off;"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_a_proxy_host_writes_its_configuration_without_database_or_key(monkeypatch, tmp_path):
    for name in ("REFLEX_DB_URL", "REFLEX_REDIS_URL", "RXAPP_SECRET_KEY", "RXAPP_LISTEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RXAPP_CLUSTER_DIR", str(tmp_path))
    assert main(["nginx-config", "--upstreams", "10.0.0.21:8001,10.0.0.22:8001"]) == 0
    pool = _block((tmp_path / "nginx.conf").read_text(), "upstream rxapp_pool {")
    assert "server 10.0.0.21:8001 " in pool and "server 10.0.0.22:8001 " in pool


@pytest.mark.parametrize(("upstreams", "message"), [("", "RXAPP_UPSTREAMS"), ("db1", "host:port")])
def test_a_proxy_host_needs_its_instances(monkeypatch, tmp_path, capsys, upstreams, message):
    monkeypatch.setenv("RXAPP_CLUSTER_DIR", str(tmp_path))
    assert main(["nginx-config", "--upstreams", upstreams]) == 1
    error = capsys.readouterr().err
    assert error.startswith("rxapp: error:") and message in error


def test_nginx_sends_a_page_in_other_letter_case_to_its_own_address(operator_env, tmp_path):
    """What `canonical_urls` does behind the instances, nginx does for the pages it serves
    itself: `/Profile` would draw the page in the browser, whose data never comes."""
    try:
        executable = nginx.nginx_executable()
    except config.ClusterError as error:
        pytest.skip(str(error))
    port = free_port()
    operator_env.setenv("RXAPP_LISTEN", f"127.0.0.1:{port}")
    loaded = config.load(port=port)
    conf = nginx.write(loaded, UPSTREAMS, tmp_path)
    server = subprocess.Popen(
        [executable, "-c", str(conf), "-p", str(loaded.run_dir), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _answers(port), timeout=10)
        base = f"http://127.0.0.1:{port}"
        moved = httpx.get(base + "/Profile/?twofa=all")
        assert moved.status_code == 308
        assert moved.headers["location"] == "/profile?twofa=all"
        assert "frame-ancestors 'none'" in moved.headers["content-security-policy"]
        assert httpx.get(base + "/USERS").headers["location"] == "/users"
        for own in ("/profile", "/login/", "/Favicon.ico"):
            assert httpx.get(base + own).status_code != 308
    finally:
        server.terminate()
        server.wait(timeout=10)


def _answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    except httpx.HTTPError:
        return False
    return True
