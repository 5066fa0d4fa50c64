"""An ASGI middleware that keeps the demo server from fetching anything on a visitor's behalf.

Gradio serves ``/gradio_api/file=<http URL>`` by downloading the URL itself, and takes a file
input whose ``path`` is an http URL by downloading it into its cache (neither is size-limited
like an upload). The demo only ever needs files uploaded to it, so :class:`NoRemoteFetch`
answers both with 403 before Gradio sees them: the server makes no outbound request, whatever
a visitor sends. Everything else passes through untouched.

The guard decides on what the server would parse, not on the headers: FastAPI parses a body as
JSON with no Content-Type, in any letter case, or as any ``+json`` type, and some of Gradio's
routes call ``request.json()`` whatever the header says. So every request body is read as
JSON, by the parser the server uses, and checked, whatever its Content-Type; only a body that
opens with ``--`` (a multipart upload, which no JSON parser takes) streams through unread.
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

# Event bodies are small JSON (files travel through /upload as multipart); bigger ones are
# not inspected but refused, so nothing can slip past by size.
_MAX_BODY = 1 << 20
# What JSON allows before a value (RFC 8259).
_JSON_SPACE = b" \t\r\n"
_REMOTE = ("http://", "https://", "//")


def _is_remote(text: str) -> bool:
    return text.strip().lower().startswith(_REMOTE)


def names_remote_file(value: Any) -> bool:
    """Whether a JSON value holds a file whose ``path`` is a URL (Gradio would download it)."""
    stack = [value]
    while stack:  # a loop, not recursion: any depth the parser took is walked
        item = stack.pop()
        if isinstance(item, dict):
            path = item.get("path")
            if isinstance(path, str) and _is_remote(path):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
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
        messages: list[Message] = []
        body = b""
        while True:  # up to the first byte that says whether the body could be JSON
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if not more or body.lstrip(_JSON_SPACE):
                break
        if body.lstrip(_JSON_SPACE).startswith(b"--"):
            # A multipart body (an upload): no JSON parser takes it, whatever its headers say.
            await self.app(scope, _replay(messages, receive), send)
            return
        while more:
            if len(body) > _MAX_BODY:
                await _refuse(send, "request body too large for this demo", status=413)
                return
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if len(body) > _MAX_BODY:
            await _refuse(send, "request body too large for this demo", status=413)
            return
        try:
            remote = names_remote_file(json.loads(body or b"null"))
        except (ValueError, RecursionError):  # as the server's own json.loads fails
            remote = False  # no JSON parser takes it: nothing in it can name a URL
        if remote:
            await _refuse(send, "this demo takes uploaded files only, not URLs")
            return
        await self.app(scope, _replay(messages, receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that first gives back the messages already read."""

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


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
