"""ASGI guards in front of every route: body size bound and same-origin writes.

Plain ASGI rather than BaseHTTPMiddleware, so that a long poll still sees its client leave."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def _json_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over a size bound with 413, whether or not they declare a length.
    ``larger`` gives some paths (file uploads) a bound of their own."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = list(larger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bound = next(
            (n for pattern, n in self.larger if pattern.fullmatch(scope["path"])), self.max_bytes
        )

        async def refuse(send: Send) -> None:
            await _json_error(send, 413, f"request body larger than {bound} bytes")

        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > bound:
                await refuse(send)
                return
        seen = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > bound and not refused:
                    refused = True
                    await refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # the app's own response after we refused goes nowhere
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class SameOrigin:
    """Refuse cross-site writes and WebSockets: browsers send Origin on them. Defence in depth
    for the SameSite=Lax session cookie against CSRF (and cross-site WebSocket hijacking, which
    SameSite alone does not stop between sites of one domain); non-browser clients send no
    Origin."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        socket = scope["type"] == "websocket"
        if socket or (scope["type"] == "http" and scope["method"] in _UNSAFE):
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            # "null" (a sandboxed frame, a data: URL, a file) is no origin of ours either.
            if origin and (origin == "null" or origin.split("://", 1)[-1] != host):
                if socket:  # before accept: the handshake is answered 403
                    await send({"type": "websocket.close", "code": 4403})
                else:
                    await _json_error(send, 403, "cross-origin request refused")
                return
        await self.app(scope, receive, send)


def content_security_policy(media_origins: Sequence[str] = ()) -> str:
    """Scripts and styles only from our own files (no inline code, no eval): an injected tag runs
    nothing, and the kiosk's token in localStorage stays out of reach. ``media_origins``: the
    object store's, when players fetch recordings from it directly (presigned playback)."""
    media = " ".join(("'self'", "blob:", *media_origins))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {' '.join(media_origins)}".rstrip(),
            f"media-src {media}",
            "worker-src 'self' blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeaders:
    """The headers every answer carries: the CSP, no MIME sniffing, no framing, no referrer to
    other sites, and on HTTPS (as the client saw it, through a trusted proxy) HSTS."""

    def __init__(self, app: ASGIApp, csp: str, hsts_max_age_s: int) -> None:
        self.app = app
        self.fixed = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
        ]
        self.hsts = (b"strict-transport-security", f"max-age={hsts_max_age_s}".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in self.fixed if n not in present]
                if https:
                    headers.append(self.hsts)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class FormRedirects:
    """A form sent by the page's script (header ``X-Form: 1``, web/static/forms.js) gets its
    redirect as ``{"redirect": location}`` with 200: a script cannot see a followed redirect's
    fragment, nor avoid fetching the next page twice. Cookies set with it stay."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (b"x-form", b"1") not in scope["headers"]:
            await self.app(scope, receive, send)
            return
        redirected = False

        async def answer(message: Message) -> None:
            nonlocal redirected
            if message["type"] == "http.response.start" and message["status"] in (302, 303):
                redirected = True
                headers = list(message.get("headers", []))
                location = next((v for n, v in headers if n.lower() == b"location"), b"/")
                body = json.dumps({"redirect": location.decode("latin-1")}).encode()
                kept = [(n, v) for n, v in headers if n.lower() == b"set-cookie"]
                kept += [(b"content-type", b"application/json")]
                kept += [(b"content-length", str(len(body)).encode())]
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            *kept,
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
            if redirected:
                return  # the redirect's own body, replaced above
            await send(message)

        await self.app(scope, receive, answer)
