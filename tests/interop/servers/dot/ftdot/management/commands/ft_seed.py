"""Create the test user and OAuth applications from a JSON file (written by tests/interop/servers.py).

{"users": [{"username": "alice", "password": "..."}],
 "applications": [{"client_id": "...", "client_secret": "...", "client_type": "confidential",
                   "redirect_uris": "http://127.0.0.1/cb", "name": "..."}]}
"""

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from oauth2_provider.models import get_application_model


class Command(BaseCommand):  # type: ignore[misc]
    help = "Seed users and OAuth applications for interop tests"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("seed_file")
        parser.add_argument("--migrate", action="store_true", help="run migrate first (one process, faster)")

    def handle(self, *args: Any, seed_file: str, migrate: bool = False, **options: Any) -> None:
        if migrate:
            call_command("migrate", verbosity=0, interactive=False)
        with open(seed_file, encoding="utf-8") as fh:
            seed = json.load(fh)
        User = get_user_model()
        Application = get_application_model()
        for u in seed.get("users", []):
            user, _ = User.objects.get_or_create(username=u["username"])
            user.set_password(u["password"])
            user.save()
        for a in seed.get("applications", []):
            Application.objects.filter(client_id=a["client_id"]).delete()
            Application.objects.create(
                name=a.get("name", a["client_id"]),
                client_id=a["client_id"],
                client_secret=a.get("client_secret", ""),
                client_type=a.get("client_type", Application.CLIENT_CONFIDENTIAL),
                authorization_grant_type=a.get("authorization_grant_type", Application.GRANT_AUTHORIZATION_CODE),
                redirect_uris=a.get("redirect_uris", "http://127.0.0.1/cb"),
                skip_authorization=bool(a.get("skip_authorization", False)),
                algorithm=a.get("algorithm", ""),
            )
        self.stdout.write(f"seeded {len(seed.get('users', []))} users, {len(seed.get('applications', []))} apps")
