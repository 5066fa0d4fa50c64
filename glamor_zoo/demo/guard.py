"""An ASGI middleware that keeps the demo server from fetching anything on a visitor's behalf.

Gradio serves ``/gradio_api/file=<http URL>`` by downloading the URL itself, and takes a file
input whose ``path`` is an http URL by downloading it into its cache (neither is size-limited
like an upload). The demo only ever needs files uploaded to it, so :class:`NoRemoteFetch`
answers both with 403 before Gradio sees them: the server makes no outbound request, whatever
a visitor sends. Everything else passes through untouched.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["NoRemoteFetch", "names_remote_file"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Event bodies are small JSON (files travel through /upload); bigger ones are not inspected
# but refused, so nothing can slip past by size.
_MAX_BODY = 1 << 20
_REMOTE = ("http://", "https://", "//")


def _is_remote(text: str) -> bool:
    return text.strip().lower().startswith(_REMOTE)


def names_remote_file(value: Any) -> bool:
    """Whether a JSON value holds a file whose ``path`` is a URL (Gradio would download it)."""
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and _is_remote(path):
            return True
        return any(names_remote_file(v) for v in value.values())
    if isinstance(value, list):
        return any(names_remote_file(v) for v in value)
    return False


def _remote_file_route(path: str) -> bool:
    for marker in ("/file=", "/proxy="):
        _, found, rest = path.partition(marker)
        if found and (marker == "/proxy=" or _is_remote(rest)):
            return True
    return False


class NoRemoteFetch:
    """Refuse (403) requests that would make Gradio fetch a URL.

    Args:
        app: The ASGI application to guard.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _remote_file_route(scope.get("path", "")):
            await _refuse(send, "this demo serves uploaded files only, never a URL")
            return
        if scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if not content_type.startswith(b"application/json"):
            await self.app(scope, receive, send)  # uploads (multipart) and the like
            return
        body, messages = b"", []
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if len(body) > _MAX_BODY:
                await _refuse(send, "request body too large for this demo", status=413)
                return
            if not message.get("more_body", False):
                break
        try:
            remote = names_remote_file(json.loads(body or b"null"))
        except ValueError:
            remote = False  # not JSON after all: the route answers it
        if remote:
            await _refuse(send, "this demo takes uploaded files only, not URLs")
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, detail: str, status: int = 403) -> None:
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
