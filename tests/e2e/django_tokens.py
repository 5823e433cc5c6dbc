"""Django's own password-reset links and signed values, for comparing the worker's with them.

  python django_tokens.py '{"secret", "pk", "password", "last_login", "email", "now"}'
      prints {"uid", "token"}: urlsafe_base64_encode(force_bytes(pk)) and
      PasswordResetTokenGenerator().make_token(user) at `now`
  python django_tokens.py check_token '{"secret", "pk", "password", "last_login", "email",
                                        "now", "timeout", "token"}'
      prints {"valid"}: check_token(user, token) at `now` with PASSWORD_RESET_TIMEOUT = timeout
  python django_tokens.py signing_dumps '{"secret", "salt", "value", "now"}'
      prints {"signed"}: signing.dumps(value, key=secret, salt=salt) at `now`
  python django_tokens.py signing_loads '{"secret", "salt", "signed", "max_age", "now"}'
      prints {"value"} or {"error"}: signing.loads(signed, key=secret, salt=salt, max_age=max_age)

`now` is epoch seconds. `last_login` is null or the text the worker's database holds (SQLite
`datetime()` output or ISO 8601 as dumpdata writes it; naive means UTC); Django parses it and
computes the token from that datetime in UTC, as for a user read from its database.
The reset timestamp is taken in UTC (as with TIME_ZONE = "UTC").
"""

import json
import sys
from datetime import datetime, timezone
from unittest import mock

import django
from django.conf import settings

mode, argument = ("make_token", sys.argv[1]) if len(sys.argv) == 2 else sys.argv[1:3]
params = json.loads(argument)

settings.configure(
    SECRET_KEY=params["secret"],
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    USE_TZ=True,
    TIME_ZONE="UTC",
    PASSWORD_RESET_TIMEOUT=params.get("timeout", 259200),
)
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.contrib.auth.tokens import PasswordResetTokenGenerator  # noqa: E402
from django.core import signing  # noqa: E402
from django.utils.dateparse import parse_datetime  # noqa: E402
from django.utils.encoding import force_bytes  # noqa: E402
from django.utils.http import urlsafe_base64_encode  # noqa: E402


class FixedClockGenerator(PasswordResetTokenGenerator):
    """Django's generator with `now` as its clock (naive UTC, as `datetime.now()` under TZ=UTC)."""

    def _now(self):
        return datetime.fromtimestamp(params["now"], timezone.utc).replace(tzinfo=None)


def user():
    last_login = params["last_login"]
    if last_login is not None:
        last_login = parse_datetime(last_login)
        if last_login.tzinfo is None:
            last_login = last_login.replace(tzinfo=timezone.utc)
        # As Django reads it from its database: in UTC. (An aware datetime in another offset
        # that was only assigned would be hashed with that offset's wall clock.)
        last_login = last_login.astimezone(timezone.utc)
    return User(
        pk=params["pk"],
        password=params["password"],
        last_login=last_login,
        email=params["email"],
    )


def at_now():
    return mock.patch("django.core.signing.time.time", return_value=params["now"])


if mode == "make_token":
    print(
        json.dumps(
            {
                "uid": urlsafe_base64_encode(force_bytes(params["pk"])),
                "token": FixedClockGenerator().make_token(user()),
            }
        )
    )
elif mode == "check_token":
    print(json.dumps({"valid": FixedClockGenerator().check_token(user(), params["token"])}))
elif mode == "signing_dumps":
    with at_now():
        signed = signing.dumps(params["value"], key=params["secret"], salt=params["salt"])
    print(json.dumps({"signed": signed}))
elif mode == "signing_loads":
    try:
        with at_now():
            value = signing.loads(
                params["signed"],
                key=params["secret"],
                salt=params["salt"],
                max_age=params["max_age"],
            )
        print(json.dumps({"value": value}))
    except (signing.BadSignature, ValueError) as error:
        print(json.dumps({"error": type(error).__name__}))
else:
    sys.exit(f"unknown mode {mode!r}")
