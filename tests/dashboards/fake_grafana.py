"""A loopback HTTP server speaking the part of Grafana's HTTP API that a push uses.

It keeps folders, datasources and dashboards in memory and answers as Grafana's documented API
does (status codes, error bodies, versions), and it checks each request the way Grafana would:
bearer token, JSON bodies, required fields, no unknown top-level fields, ``overwrite`` rules.
Every request is recorded as (method, path, query, body) for assertions.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FOLDER_FIELDS = {"uid", "title", "parentUid", "description"}
FOLDER_UPDATE_FIELDS = {"uid", "title", "version", "overwrite", "description"}
DATASOURCE_FIELDS = {"name", "type", "uid", "access", "url", "user", "database", "basicAuth",
                     "basicAuthUser", "withCredentials", "isDefault", "jsonData",
                     "secureJsonData", "editable", "version", "orgId"}
SAVE_DASHBOARD_FIELDS = {"dashboard", "folderId", "folderUid", "message", "overwrite"}


class FakeGrafana:
    """``with FakeGrafana(token) as grafana: grafana.url``."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.violations: list[str] = []
        self.folders: dict[str, dict[str, Any]] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self._next_id = 1
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        grafana = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                body = None
                if method in ("POST", "PUT"):
                    if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                        grafana.violations.append(f"{method} {parts.path} without JSON body")
                    length = int(self.headers.get("Content-Length", 0))
                    body = json.loads(self.rfile.read(length) or b"null")
                with grafana._lock:
                    grafana.requests.append((method, parts.path, parse_qs(parts.query), body))
                    if self.headers.get("Authorization") != f"Bearer {grafana.token}":
                        self._reply(401, {"message": "Unauthorized"})
                        return
                    status, reply = grafana.route(method, parts.path, parse_qs(parts.query),
                                                  body)
                self._reply(status, reply)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        return Handler

    def _unknown(self, where: str, body: dict[str, Any], allowed: set[str]) -> bool:
        extra = set(body) - allowed
        if extra:
            self.violations.append(f"{where}: unknown fields {sorted(extra)}")
        return bool(extra)

    def route(self, method: str, path: str, query: dict[str, list[str]],
              body: Any) -> tuple[int, Any]:
        segments = path.strip("/").split("/")
        if len(segments) < 2 or segments[0] != "api":
            self.violations.append(f"{method} {path} is outside /api")
            return 404, {"message": "Not found"}
        rest = segments[1:]
        if rest[0] == "folders":
            return self._folders(method, rest[1:], body)
        if rest[0] == "datasources":
            return self._datasources(method, rest[1:], body)
        if rest == ["dashboards", "db"] and method == "POST":
            return self._save_dashboard(body)
        if rest[:2] == ["dashboards", "uid"] and method == "GET" and len(rest) == 3:
            found = self.dashboards.get(rest[2])
            if not found:
                return 404, {"message": "Dashboard not found"}
            return 200, {"dashboard": found["dashboard"],
                         "meta": {"folderUid": found["folderUid"]}}
        if rest == ["search"] and method == "GET":
            return self._search(query)
        self.violations.append(f"{method} {path} is not an endpoint a push should call")
        return 404, {"message": "Not found"}

    def _folders(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if method == "POST" and not rest:
            if not isinstance(body, dict) or not body.get("title") or \
                    self._unknown("POST /api/folders", body, FOLDER_FIELDS):
                return 400, {"message": "bad request data"}
            uid = body.get("uid") or f"f{self._new_id()}"
            if uid in self.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            if any(f["title"] == body["title"] for f in self.folders.values()):
                return 409, {"message": "a folder or dashboard with the same name already "
                                        "exists"}
            self.folders[uid] = {"id": self._new_id(), "uid": uid, "title": body["title"],
                                 "version": 1, "url": f"/dashboards/f/{uid}/"}
            return 200, self.folders[uid]
        if len(rest) == 1 and method == "GET":
            folder = self.folders.get(rest[0])
            return (200, folder) if folder else (404, {"message": "folder not found"})
        if len(rest) == 1 and method == "PUT":
            folder = self.folders.get(rest[0])
            if not folder:
                return 404, {"message": "folder not found"}
            if self._unknown("PUT /api/folders/:uid", body, FOLDER_UPDATE_FIELDS):
                return 400, {"message": "bad request data"}
            if not body.get("overwrite") and body.get("version") != folder["version"]:
                return 412, {"message": "the folder has been changed by someone else"}
            folder.update(title=body.get("title", folder["title"]),
                          version=folder["version"] + 1)
            return 200, folder
        self.violations.append(f"{method} /api/folders/{'/'.join(rest)}")
        return 404, {"message": "Not found"}

    def _datasources(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if method == "POST" and not rest:
            if not isinstance(body, dict) or not body.get("name") or not body.get("type") \
                    or not body.get("access") or \
                    self._unknown("POST /api/datasources", body, DATASOURCE_FIELDS):
                return 400, {"message": "bad request data"}
            if any(d["name"] == body["name"] for d in self.datasources.values()):
                return 409, {"message": "data source with the same name already exists"}
            uid = body.get("uid") or f"d{self._new_id()}"
            record = {k: v for k, v in body.items() if k != "secureJsonData"}
            record.update(id=self._new_id(), uid=uid, version=1,
                          secureJsonFields={k: True for k in body.get("secureJsonData", {})})
            self.datasources[uid] = record
            return 200, {"datasource": record, "id": record["id"], "message": "Datasource added",
                         "name": record["name"]}
        if rest[:1] == ["uid"] and len(rest) == 2:
            record = self.datasources.get(rest[1])
            if record is None:
                return 404, {"message": "Data source not found"}
            if method == "GET":
                return 200, record
            if method == "PUT":
                if self._unknown("PUT /api/datasources/uid/:uid", body, DATASOURCE_FIELDS) or \
                        body.get("uid", rest[1]) != rest[1] or not body.get("name"):
                    return 400, {"message": "bad request data"}
                secure = dict(record["secureJsonFields"])
                secure.update({k: True for k in body.get("secureJsonData", {})})
                record.update({k: v for k, v in body.items() if k != "secureJsonData"})
                record.update(version=record["version"] + 1, secureJsonFields=secure)
                return 200, {"datasource": record, "id": record["id"],
                             "message": "Datasource updated", "name": record["name"]}
        self.violations.append(f"{method} /api/datasources/{'/'.join(rest)}")
        return 404, {"message": "Not found"}

    def _save_dashboard(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("dashboard"), dict) or \
                self._unknown("POST /api/dashboards/db", body, SAVE_DASHBOARD_FIELDS):
            return 400, {"message": "bad request data"}
        dashboard, folder_uid = body["dashboard"], body.get("folderUid", "")
        if not dashboard.get("title"):
            return 400, {"message": "Dashboard title cannot be empty"}
        if folder_uid and folder_uid not in self.folders:
            return 400, {"message": "folder not found"}
        uid = dashboard.get("uid") or f"u{self._new_id()}"
        existing = self.dashboards.get(uid)
        if existing and not body.get("overwrite") and \
                dashboard.get("version") != existing["dashboard"]["version"]:
            return 412, {"message": "The dashboard has been changed by someone else",
                         "status": "version-mismatch"}
        if dashboard.get("id") is not None and (
                not existing or existing["dashboard"]["id"] != dashboard["id"]):
            return 404, {"message": "Dashboard not found", "status": "not-found"}
        version = existing["dashboard"]["version"] + 1 if existing else 1
        stored = dict(dashboard, uid=uid, version=version,
                      id=existing["dashboard"]["id"] if existing else self._new_id())
        self.dashboards[uid] = {"dashboard": stored, "folderUid": folder_uid}
        return 200, {"id": stored["id"], "uid": uid, "url": f"/d/{uid}/x", "status": "success",
                     "version": version, "slug": "x", "folderUid": folder_uid}

    def _search(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        folders = set(query.get("folderUIDs", []))
        kinds = set(query.get("type", []))
        hits = [{"uid": uid, "title": d["dashboard"]["title"], "type": "dash-db",
                 "folderUid": d["folderUid"]}
                for uid, d in sorted(self.dashboards.items())
                if (not folders or d["folderUid"] in folders) and (not kinds or "dash-db" in kinds)]
        return 200, hits
