"""`make loadtest`'s users (locust): each asks for one page, FF_LOADTEST_PAGE, again and again with no pause,
signed in with a session made beforehand by `manage.py loadtest` (FF_LOADTEST_SESSIONS: a JSON file of,
per page, the cookie to send and the address to ask for). Run by `manage.py loadtest`, not by hand."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from locust import HttpUser, constant, task

SESSIONS = json.loads(Path(os.environ["FF_LOADTEST_SESSIONS"]).read_text())
PAGE = os.environ["FF_LOADTEST_PAGE"]


class SignedInUser(HttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        signed_in = random.choice(SESSIONS[PAGE])  # noqa: S311 - spreading users over sessions
        self.client.cookies.set(signed_in["cookie"], signed_in["key"])
        self.address = signed_in["path"]

    @task
    def ask(self) -> None:
        with self.client.get(self.address, name=PAGE, allow_redirects=False, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code} for {self.address}")
