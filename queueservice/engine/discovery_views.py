"""The discovery service: the directory of loaded APIs and each API's document.

Served documents carry the `rootUrl` of the host the client used (or the proxy's
`X-Forwarded-Proto`/`-Host`/`-Prefix`), so `googleapiclient.discovery.build` sends its
calls back to this server.
"""

from __future__ import annotations

import re

from flask import request

from queueservice.errors import InvalidArgument, NotFound
from queueservice.engine.responses import json_response

_HOST = re.compile(r"^[A-Za-z0-9.\-_:\[\]]{1,255}$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~\-]+)*$")


def _first(header: str) -> str:
    return (request.headers.get(header) or "").split(",")[0].strip()


def root_url() -> str:
    proto = _first("X-Forwarded-Proto").lower()
    if proto not in ("http", "https"):
        proto = request.scheme
    host = _first("X-Forwarded-Host")
    if not _HOST.match(host):
        host = request.host if _HOST.match(request.host or "") else "localhost"
    prefix = _first("X-Forwarded-Prefix").rstrip("/")
    if not _PREFIX.match(prefix) or any(part in (".", "..") for part in prefix.split("/")):
        prefix = ""
    return f"{proto}://{host}{prefix}/"


def views(apis: list) -> list:
    """(rule, view function) pairs for the discovery endpoints of `apis`."""
    docs = {(a.document.name, a.document.version): a.document for a in apis}

    def directory():
        name = request.args.get("name")
        preferred_only = request.args.get("preferred", "false").lower() == "true"
        latest = {}
        for (api, version) in docs:
            latest[api] = version
        root = root_url()
        items = []
        for (api, version), doc in sorted(docs.items()):
            if name and api != name:
                continue
            preferred = latest[api] == version
            if preferred_only and not preferred:
                continue
            items.append({
                "kind": "discovery#directoryItem",
                "id": f"{api}:{version}",
                "name": api,
                "version": version,
                "title": doc.raw.get("title", api),
                "description": doc.raw.get("description", ""),
                "discoveryRestUrl": f"{root}discovery/v1/apis/{api}/{version}/rest",
                "documentationLink": doc.raw.get("documentationLink", ""),
                "preferred": preferred,
            })
        return json_response({"kind": "discovery#directoryList", "discoveryVersion": "v1",
                              "items": items})

    def rest(api, version):
        doc = docs.get((api, version))
        if doc is None:
            raise NotFound(f"No API {api} {version} is served here")
        return json_response(doc.rendered(root_url()))

    def dollar_rest():
        version = request.args.get("version")
        if not version:
            raise InvalidArgument("Required parameter: version", reason="required", location="version")
        api = request.args.get("api")
        found = [d for (a, v), d in docs.items() if v == version and (api is None or a == api)]
        if not found:
            raise NotFound(f"No API version {version} is served here")
        if len(found) > 1:
            raise InvalidArgument(f"Several APIs have version {version}; add api=<name>", location="api")
        return json_response(found[0].rendered(root_url()))

    return [
        ("/discovery/v1/apis", directory),
        ("/discovery/v1/apis/<api>/<version>/rest", rest),
        # Where the first TaskQueue emulator served documents; compose files in the field point here.
        # Only the names of served APIs, so `/api/...` stays free for an API's own paths at the root.
        (f"/api/<any({', '.join(sorted({name for name, _ in docs}))}):api>/<version>", rest),
        ("/$discovery/rest", dollar_rest),
    ]
