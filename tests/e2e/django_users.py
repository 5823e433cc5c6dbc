"""Makes users with real Django 4.2 (stock auth.user, SQLite) and dumps them with dumpdata.

  python django_users.py DATABASE OUTPUT_JSON

Prints the users it made as JSON: [{"pk", "email", "password" (plain text or null)}, ...].
"""

import json
import sys

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}},
    USE_TZ=True,
)
django.setup()

from django.contrib.auth.hashers import PBKDF2PasswordHasher  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0)


class OldDjangoHasher(PBKDF2PasswordHasher):
    """A hash as an older Django (fewer iterations) left it in the database."""

    iterations = 260000


made = []
alice = User.objects.create_user("alice", "Alice@Example.com", "correct horse battery")
made.append({"pk": alice.pk, "email": "alice@example.com", "password": "correct horse battery"})

bob = User.objects.create_user("bob", "bob@example.com")
bob.password = OldDjangoHasher().encode("bobs old secret 42", OldDjangoHasher().salt())
bob.save()
made.append({"pk": bob.pk, "email": "bob@example.com", "password": "bobs old secret 42"})

carol = User.objects.create_user("carol", "carol@example.com")
carol.set_unusable_password()
carol.save()
made.append({"pk": carol.pk, "email": "carol@example.com", "password": None})

dave = User.objects.create_user("dave", "dave@example.com")
dave.password = "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
dave.save()
made.append({"pk": dave.pk, "email": "dave@example.com", "password": None})

eve = User.objects.create_user("eve", "eve@example.com", "eves password 77", is_active=False)
made.append({"pk": eve.pk, "email": "eve@example.com", "password": None})

call_command("dumpdata", "auth.user", output=sys.argv[2], indent=2, verbosity=0)
print(json.dumps(made))
