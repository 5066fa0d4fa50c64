"""A local HTTP file server (127.0.0.1, a free port) that can misbehave, for download tests.

It serves ``files`` (URL path → bytes) with a ``Content-Length``; ``cut_after[path] = n`` sends
only the first ``n`` bytes of that file and then closes the connection (a server dying
mid-file), ``delay_s`` pauses before each file's body. Every GET is recorded in ``requests``.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["MirrorServer"]

_BLOCK = 16 << 10


class MirrorServer:
    """``with MirrorServer({"/a/Model.index": data}) as server: server.url + "/a"``."""

    def __init__(self, files: dict[str, bytes], delay_s: float = 0.0) -> None:
        self.files = dict(files)
        self.cut_after: dict[str, int] = {}
        self.delay_s = delay_s
        self.requests: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(self.path)
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                time.sleep(server.delay_s)
                cut = server.cut_after.get(self.path)
                body = data if cut is None else data[:cut]
                for start in range(0, len(body), _BLOCK):
                    self.wfile.write(body[start : start + _BLOCK])
                if cut is not None:
                    self.wfile.flush()
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving; the port then refuses connections."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> MirrorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
