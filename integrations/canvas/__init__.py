"""Everything that speaks HTTP to a Canvas instance.

- `settings`: the one settings object (`canvas_settings`).
- `http`: the one session policy (timeouts, no redirects, no resends).
- `auth`: the authorization server client (authorize URL, exchange, refresh, revoke).
- `plugin`: the note_sign_api plugin client (me, notes, note, content, actions).
- `content`: a note's content (its commands) as the plugin answers it.
- `exceptions`: `CanvasError` and its typed subclasses.

It knows no models and imports no app; `requests` exceptions never leave it.
Apps call the plugin through `canvas_oauth.tokens.canvas_call`, which owns
the user's token and its single 401 -> refresh -> retry.
"""
