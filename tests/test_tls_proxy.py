"""Behind TLS: Debian's nginx terminates HTTPS (a certificate the test makes) in front of the
portal, as the README's "Behind TLS" section sets it up. Pages load in Chromium under the CSP
without a violation, the login cookie is Secure, HSTS is sent, and the portal sees the client's
address through the trusted proxy."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from classroom.db.models import LoginFailure
from storage.ports import free_port
from tests.browser import browser
from tests.live_stack import LiveStack

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        location / {{
            proxy_pass {upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $http_connection;
            proxy_buffering off;
            proxy_read_timeout 3600s;
        }}
    }}
}}
"""


@pytest.fixture
def tls_proxy(live: LiveStack, tmp_path: Path) -> Iterator[str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "Debian's nginx is not installed: make test-services installs it"
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    files = ["-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")]
    subprocess.run([*openssl, *subject, *files], check=True, capture_output=True)
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp_path, port=port, upstream=live.url))
    proc = subprocess.Popen(
        [nginx, "-c", str(conf), "-e", str(tmp_path / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (tmp_path / "error.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", verify=False, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_portal_behind_a_tls_proxy(live: LiveStack, tls_proxy: str, tmp_path: Path) -> None:
    page_answer = httpx.get(f"{tls_proxy}/login", verify=False)
    assert page_answer.status_code == 200
    assert page_answer.headers["strict-transport-security"].startswith("max-age=")
    csp = page_answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page_answer.headers["x-content-type-options"] == "nosniff"
    # Straight to the portal, not through the proxy: plain HTTP, no HSTS.
    assert "strict-transport-security" not in httpx.get(f"{live.url}/login").headers

    violations: list[str] = []
    with browser(tmp_path / "profile", ["--ignore-certificate-errors"]) as ctx:
        page = ctx.new_page()
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(f"{tls_proxy}/login")
        page.fill("input[name=username]", "manager")
        page.fill("input[name=password]", "manager-demo-pw")
        page.click("button[type=submit]")
        page.wait_for_url(f"{tls_proxy}/sessions")
        (cookie,) = [c for c in ctx.cookies() if c["name"] == "classroom_session"]
        assert cookie["secure"] and cookie["httpOnly"]
        for path in ("/sessions", "/recordings", "/compliance?year=2023", "/classrooms"):
            response = page.goto(f"{tls_proxy}{path}")
            assert response is not None and response.status == 200, path
            assert response.headers["strict-transport-security"].startswith("max-age=")
            page.wait_for_load_state("networkidle")
    assert not violations, violations

    # The client's address, as the trusted proxy passed it on, is what the login throttle counts.
    r = httpx.post(
        f"{tls_proxy}/api/v1/auth/login",
        json={"username": "nobody-here", "password": "wrong-password"},
        headers={"X-Forwarded-For": "203.0.113.7"},
        verify=False,
    )
    assert r.status_code == 401

    async def keys(db):  # type: ignore[no-untyped-def]
        return set(await db.scalars(select(LoginFailure.key)))

    assert "addr:203.0.113.7" in live.db(keys)
