"""A local HTTP server that speaks the Hugging Face Hub routes the ``huggingface_hub`` client uses.

Tests drive the real client end to end against it (``HF_ENDPOINT=http://127.0.0.1:PORT``):
``create_repo``, ``/api/validate-yaml``, ``preupload`` (every file is a "regular" upload, sent
base64 inside the commit, so no LFS or Xet storage is needed), ``commit``, model info, tree
listings and ``resolve`` downloads (HEAD and GET, with the ``X-Repo-Commit`` / ``ETag`` headers
the download cache relies on). Repositories live in memory as git-like commits; every request is
logged in ``HubServer.requests`` so tests can count commits or prove that nothing was fetched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

__all__ = ["Commit", "HubServer"]


def git_blob_oid(data: bytes) -> str:
    """The git blob sha1 of ``data`` (what the Hub reports as a regular file's oid and ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, bytes]
    date: str = field(
        default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    )


@dataclass
class _Repo:
    branches: dict[str, str]
    commits: dict[str, Commit]

    def resolve(self, revision: str) -> Commit | None:
        revision = unquote(revision)
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        matches = [
            c for oid, c in self.commits.items() if oid.startswith(revision) and len(revision) >= 7
        ]
        return matches[0] if len(matches) == 1 else None


class HubServer:
    """An in-memory Hub on ``127.0.0.1`` (port 0 = any free port); use as a context manager.

    Args:
        token: If given, write routes answer 401 unless ``Authorization: Bearer <token>``.
        port: Port on 127.0.0.1 (0: any free port).
    """

    def __init__(self, token: str | None = None, port: int = 0) -> None:
        self.token = token
        self.repos: dict[str, _Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    # ------------------------------------------------------------------ state helpers

    def commits(self, repo_id: str, branch: str = "main") -> list[Commit]:
        """The commits of ``branch``, newest first."""
        repo = self.repos[repo_id]
        out, oid = [], repo.branches[branch]
        while oid is not None:
            out.append(repo.commits[oid])
            oid = repo.commits[oid].parent
        return out

    def file(self, repo_id: str, path: str, revision: str = "main") -> bytes:
        return self.repos[repo_id].resolve(revision).files[path]

    def set_file(self, repo_id: str, path: str, data: bytes, message: str = "edit") -> str:
        """Commit ``data`` at ``path`` on main directly (to simulate a corrupted upload)."""
        with self._lock:
            repo = self.repos[repo_id]
            return self._commit(repo, "main", {**repo.resolve("main").files, path: data}, message)

    def _create(self, repo_id: str) -> bool:
        with self._lock:
            if repo_id in self.repos:
                return False
            repo = _Repo(branches={}, commits={})
            self.repos[repo_id] = repo
            self._commit(
                repo,
                "main",
                {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"},
                "initial commit",
            )
            return True

    def _commit(self, repo: _Repo, branch: str, files: dict[str, bytes], message: str) -> str:
        parent = repo.branches.get(branch)
        digest = hashlib.sha1(json.dumps([parent, message, len(repo.commits)]).encode())
        for path in sorted(files):
            digest.update(path.encode() + git_blob_oid(files[path]).encode())
        oid = digest.hexdigest()
        repo.commits[oid] = Commit(oid=oid, parent=parent, message=message, files=dict(files))
        repo.branches[branch] = oid
        return oid


_API_REPO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?P<rest>/.*)?$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


def _make_handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        # ------------------------------------------------------------- plumbing

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(
            self,
            status: int,
            body: bytes = b"",
            headers: dict[str, str] | None = None,
            content_type: str = "application/json",
            head: bool = False,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(payload).encode(), headers)

        def _error(
            self,
            status: int,
            message: str,
            code: str | None = None,
            headers: dict[str, str] | None = None,
            head: bool = False,
        ) -> None:
            extra = dict(headers or {})
            if code:
                extra["X-Error-Code"] = code
            extra["X-Error-Message"] = message
            self._send(status, json.dumps({"error": message}).encode(), extra, head=head)

        def _authorised(self) -> bool:
            if hub.token is None or self.headers.get("Authorization") == f"Bearer {hub.token}":
                return True
            self._error(401, "Invalid credentials in Authorization header")
            return False

        def _route(self, method: str) -> None:
            path = urlsplit(self.path).path
            hub.requests.append((method, path))
            try:
                self._dispatch(method, path)
            except Exception as exc:  # the test sees a 500 instead of a hung client
                self._error(500, f"{type(exc).__name__}: {exc}")

        def do_GET(self) -> None:
            self._route("GET")

        def do_HEAD(self) -> None:
            self._route("HEAD")

        def do_POST(self) -> None:
            self._route("POST")

        # ------------------------------------------------------------- routes

        def _dispatch(self, method: str, path: str) -> None:
            if method == "POST" and path == "/api/repos/create":
                return self._create_repo()
            if method == "POST" and path == "/api/validate-yaml":
                return self._validate_yaml()
            if match := _API_REPO.match(path):
                repo = hub.repos.get(match["repo"])
                if repo is None:
                    self._body()
                    return self._error(404, f"Repository {match['repo']} not found", "RepoNotFound")
                return self._api(method, match["repo"], repo, match["rest"] or "")
            if (match := _RESOLVE.match(path)) and method in ("GET", "HEAD"):
                return self._resolve(
                    match["repo"], match["rev"], unquote(match["path"]), head=method == "HEAD"
                )
            self._body()
            self._error(404, f"no route for {method} {path}")

        def _create_repo(self) -> None:
            payload = json.loads(self._body() or b"{}")
            if not self._authorised():
                return
            repo_id = (
                f"{payload['organization']}/{payload['name']}"
                if payload.get("organization")
                else payload["name"]
            )
            body = {"url": f"{hub.endpoint}/{repo_id}", "name": repo_id, "id": repo_id}
            if not hub._create(repo_id):
                message = "You already created this model repo"
                return self._json(409, {**body, "error": message}, {"X-Error-Message": message})
            self._json(200, body)

        def _validate_yaml(self) -> None:
            content = json.loads(self._body())["content"]
            match = re.match(r"^---\s*\n(.*?)\n---\s*\n", content, re.DOTALL)
            if match is None:
                return self._json(
                    200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata"}]}
                )
            try:
                meta = yaml.safe_load(match[1])
            except yaml.YAMLError as exc:
                return self._json(
                    400, {"errors": [{"message": f"invalid YAML: {exc}"}], "warnings": []}
                )
            if not isinstance(meta, dict):
                return self._json(
                    400, {"errors": [{"message": "metadata must be a mapping"}], "warnings": []}
                )
            self._json(200, {"errors": [], "warnings": []})

        def _api(self, method: str, repo_id: str, repo: _Repo, rest: str) -> None:
            if method == "POST" and (m := re.match(r"^/preupload/(?P<rev>[^/]+)$", rest)):
                payload = json.loads(self._body())
                if not self._authorised():
                    return
                head = repo.resolve(m["rev"])
                files = head.files if head is not None else {}
                return self._json(
                    200,
                    {
                        "files": [
                            {
                                "path": f["path"],
                                "uploadMode": "regular",
                                "shouldIgnore": False,
                                "oid": git_blob_oid(files[f["path"]])
                                if f["path"] in files
                                else None,
                            }
                            for f in payload["files"]
                        ]
                    },
                )
            if method == "POST" and (m := re.match(r"^/commit/(?P<rev>[^/]+)$", rest)):
                return self._commit(repo_id, repo, unquote(m["rev"]))
            if method == "GET" and (m := re.match(r"^(?:/revision/(?P<rev>[^/]+))?$", rest)):
                return self._info(repo_id, repo, m["rev"] or "main")
            if method == "GET" and (m := re.match(r"^/tree/(?P<rev>[^/]+)(?P<path>/.*)?$", rest)):
                return self._tree(repo, m["rev"], unquote((m["path"] or "").lstrip("/")))
            self._body()
            self._error(404, f"no route for {method} /api/models/{repo_id}{rest}")

        def _commit(self, repo_id: str, repo: _Repo, branch: str) -> None:
            lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
            if not self._authorised():
                return
            if branch not in repo.branches:
                return self._error(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            header = next(item["value"] for item in lines if item["key"] == "header")
            with hub._lock:
                head = repo.commits[repo.branches[branch]]
                parent = header.get("parentCommit")
                if parent is not None and not head.oid.startswith(parent):
                    return self._error(412, f"parent commit {parent} is not the head of {branch}")
                files = dict(head.files)
                for item in lines:
                    value = item["value"]
                    if item["key"] == "file":
                        files[value["path"]] = base64.b64decode(value["content"])
                    elif item["key"] == "deletedFile":
                        if files.pop(value["path"], None) is None:
                            return self._error(
                                404, "A file with this name doesn't exist", "EntryNotFound"
                            )
                    elif item["key"] != "header":
                        return self._error(
                            400, f"this test server does not support {item['key']!r} operations"
                        )
                oid = hub._commit(repo, branch, files, header["summary"])
            self._json(
                200,
                {
                    "commitUrl": f"{hub.endpoint}/{repo_id}/commit/{oid}",
                    "commitOid": oid,
                    "pullRequestUrl": None,
                    "success": True,
                },
            )

        def _info(self, repo_id: str, repo: _Repo, revision: str) -> None:
            commit = repo.resolve(revision)
            if commit is None:
                return self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            card_data = None
            readme = commit.files.get("README.md", b"").decode()
            if match := re.match(r"^---\s*\n(.*?)\n---\s*\n", readme, re.DOTALL):
                card_data = yaml.safe_load(match[1])
            self._json(
                200,
                {
                    "id": repo_id,
                    "modelId": repo_id,
                    "sha": commit.oid,
                    "lastModified": commit.date,
                    "private": False,
                    "tags": list((card_data or {}).get("tags", [])),
                    "library_name": (card_data or {}).get("library_name"),
                    "pipeline_tag": (card_data or {}).get("pipeline_tag"),
                    "cardData": card_data,
                    "siblings": [
                        {"rfilename": p, "size": len(d), "blobId": git_blob_oid(d)}
                        for p, d in sorted(commit.files.items())
                    ],
                },
            )

        def _tree(self, repo: _Repo, revision: str, prefix: str) -> None:
            commit = repo.resolve(revision)
            if commit is None:
                return self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            prefix = f"{prefix}/" if prefix else ""
            entries = [
                {"type": "file", "path": p, "size": len(d), "oid": git_blob_oid(d)}
                for p, d in sorted(commit.files.items())
                if p.startswith(prefix) and "/" not in p[len(prefix) :]
            ]
            self._json(200, entries)

        def _resolve(self, repo_id: str, revision: str, path: str, head: bool) -> None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                return self._error(
                    404, f"Repository {repo_id} not found", "RepoNotFound", head=head
                )
            commit = repo.resolve(revision)
            if commit is None:
                return self._error(
                    404, f"Invalid rev id: {revision}", "RevisionNotFound", head=head
                )
            if path not in commit.files:
                return self._error(
                    404,
                    f"Entry not found: {path}",
                    "EntryNotFound",
                    {"X-Repo-Commit": commit.oid},
                    head=head,
                )
            data = commit.files[path]
            headers = {
                "X-Repo-Commit": commit.oid,
                "ETag": f'"{git_blob_oid(data)}"',
                "Accept-Ranges": "bytes",
            }
            status = 200
            if (m := re.match(r"^bytes=(\d+)-$", self.headers.get("Range", ""))) and not head:
                start = int(m[1])
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                data, status = data[start:], 206
            self._send(status, data, headers, content_type="application/octet-stream", head=head)

    return Handler


def main() -> None:
    """Serve a local Hub until interrupted, to rehearse a push: ``python tests/hub_server.py``."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument("--token", help="require this token for writes")
    args = parser.parse_args()
    with HubServer(token=args.token, port=args.port) as server:
        print(f"local Hub at {server.endpoint}  (export HF_ENDPOINT={server.endpoint})", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
