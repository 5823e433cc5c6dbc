"""Creates the benchmark's user in the Django seed's database. Run by `make bench` as
`manage.py shell -c` in the seed's folder, so with the seed's settings; BENCH_USER holds the
user's fields as JSON."""
import json
import os

from accounts.models import User

User.objects.create_user(**json.loads(os.environ["BENCH_USER"]))
