"""`manage.py medcom_send <name>`: send one of the demo's example MedCom HospitalNotifications
(pathways/medcom_examples/<name>.json) to a running server and print the answer.

Times in the example are filled in relative to now. The key defaults to the demo hospital's (seed_demo
issues it and prints it; pathways.demo.DEMO_MEDCOM_KEY). The example's message id is fixed, so sending it
twice shows idempotency: the second answer is the first acknowledgement again and nothing changes;
`--new-id` sends it as a new message.

    manage.py medcom_send kirsten-discharge
    manage.py medcom_send --list
"""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import uuid4

import httpx
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from pathways import medcom
from pathways.demo import DEMO_MEDCOM_KEY


class Command(BaseCommand):
    help = "Send an example MedCom HospitalNotification to the running server and print the answer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="The example, e.g. kirsten-discharge (see --list).")
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="The server (default: %(default)s)."
        )
        parser.add_argument(
            "--key", default=DEMO_MEDCOM_KEY, help="The integration key (default: the demo's)."
        )
        parser.add_argument("--new-id", action="store_true", help="Send it as a new message (a new id).")
        parser.add_argument("--list", action="store_true", help="List the examples.")

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # the answer is printed below
        names = medcom.example_names()
        if options["list"] or not options["name"]:
            self.stdout.write("Examples: " + ", ".join(names))
            return
        name = options["name"]
        if name not in names:
            raise CommandError(f"No example {name!r}. Examples: {', '.join(names)}")
        message = medcom.example_message(name, message_id=str(uuid4()) if options["new_id"] else "")
        url = options["url"].rstrip("/") + reverse("api:medcom-hospital-notification")
        try:
            response = httpx.post(
                url,
                content=json.dumps(message).encode("utf-8"),
                headers={
                    "Content-Type": medcom.FHIR_JSON,
                    "Accept": medcom.FHIR_JSON,
                    "Authorization": f"Bearer {options['key']}",
                },
                timeout=30.0,
            )
        except httpx.HTTPError as error:
            raise CommandError(f"Could not reach {url}: {error}") from None
        self.stdout.write(f"{response.status_code} {response.reason_phrase} from {url}")
        try:
            self.stdout.write(json.dumps(response.json(), indent=2, ensure_ascii=False))
        except ValueError:
            self.stdout.write(response.text)
        if response.status_code >= 400:
            raise CommandError(f"The server refused the message ({response.status_code}).")
