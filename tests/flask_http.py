"""An httplib2-compatible transport over Flask's test client, so googleapiclient runs in-process."""

from __future__ import annotations

from urllib.parse import urlsplit

import httplib2


class FlaskHttp:
    def __init__(self, app):
        self._client = app.test_client()

    def request(self, uri, method="GET", body=None, headers=None, redirections=5, connection_type=None):
        parts = urlsplit(uri)
        response = self._client.open(parts.path, method=method, query_string=parts.query,
                                     data=body, headers=dict(headers or {}),
                                     base_url=f"{parts.scheme}://{parts.netloc}")
        info = {k.lower(): v for k, v in response.headers.items()}
        info["status"] = str(response.status_code)
        return httplib2.Response(info), response.get_data()
