"""Every call the cases make: `requests` with timeouts, redirects off, tokens in headers only."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

TIMEOUT = (3.05, 20.0)


@dataclass(frozen=True)
class Answer:
    """What an endpoint answered: status (0: no answer), parsed JSON body or None, seconds."""

    status: int
    body: Any
    seconds: float
    text_length: int = 0

    @property
    def error_code(self) -> str | None:
        """The contract's `error.code`, if the body is an error."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            code = self.body["error"].get("code")
            return code if isinstance(code, str) else None
        return None

    @property
    def route_absent(self) -> bool:
        """The plugin runner's empty 404: no route (not a note the caller cannot see)."""
        return self.status == 404 and self.error_code is None


class Client:
    """The plugin API and OAuth endpoints of one instance."""

    def __init__(self, *, base_url: str, plugin_name: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_root = f"{self.base_url}/plugin-io/api/{plugin_name}"
        self.session = requests.Session()

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def api(
        self,
        method: str,
        path: str,
        *,
        token: str | None,
        params: dict[str, Any] | None = None,
    ) -> Answer:
        """Call the plugin API (`path` like "/notes") as the holder of `token`."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self._send(method, self.api_root + path, headers=headers, params=params)

    def oauth(self, path: str, *, data: dict[str, str]) -> Answer:
        """POST a form to an OAuth endpoint (`path` like "/auth/token/")."""
        return self._send("POST", self.base_url + path, headers={}, data=data)

    def _send(self, method: str, url: str, *, headers: dict[str, str], **kwargs: Any) -> Answer:
        headers = {"Accept": "application/json", **headers}
        started = time.monotonic()
        try:
            response = self.session.request(
                method, url, headers=headers, timeout=TIMEOUT, allow_redirects=False, **kwargs
            )
        except requests.RequestException:
            return Answer(status=0, body=None, seconds=time.monotonic() - started)
        seconds = time.monotonic() - started
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        return Answer(
            status=response.status_code,
            body=body,
            seconds=seconds,
            text_length=len(response.content),
        )
