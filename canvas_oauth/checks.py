"""System checks: the portal does not start without usable token keys."""

from django.core.checks import Error, register

from canvas_oauth.crypto import keys_problems


@register()
def token_keys_check(app_configs=None, **kwargs) -> list[Error]:
    """Fail on a missing (E001) or malformed (E002) TOKEN_ENCRYPTION_KEYS; never print a key."""
    hint = (
        "Set TOKEN_ENCRYPTION_KEYS to a comma list of Fernet keys; make one with "
        'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    )
    return [
        Error(problem.message, hint=hint, id=f"canvas_oauth.{problem.check_id}")
        for problem in keys_problems()
    ]
