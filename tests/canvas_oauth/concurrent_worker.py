"""A separate process asking for a user's Canvas token (used by test_concurrency).

Run with DJANGO_SETTINGS_MODULE=portal.settings, DATABASE_URL pointing at the
test database and the sandbox's CANVAS_* settings. Prints "ready", waits
for a line on stdin, then asks for the token, checks it with GET /me and
prints one JSON line: {"ok", "token_sha256", "me_status", "error"}.
"""

import hashlib
import json
import sys

import django


def main() -> int:
    django.setup()
    import requests
    from django.contrib.auth import get_user_model

    from canvas_oauth.tokens import access_token_get
    from integrations.canvas.settings import canvas_settings

    user = get_user_model().objects.get(pk=int(sys.argv[1]))
    print("ready", flush=True)
    sys.stdin.readline()
    result = {"ok": False, "token_sha256": "", "me_status": 0, "error": ""}
    try:
        token = access_token_get(user=user)
    except Exception as exc:  # report any failure to the test
        result["error"] = type(exc).__name__
    else:
        result["token_sha256"] = hashlib.sha256(token.encode()).hexdigest()
        response = requests.get(
            canvas_settings.plugin_api_url + "me",
            headers={"Authorization": f"Bearer {token}"},
            timeout=(3.05, 30),
        )
        result["me_status"] = response.status_code
        result["ok"] = response.status_code == 200
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
