"""An independent FHIR R4 check for the tests: medplum's validator, run by node against the official R4
StructureDefinitions, plus validate_r4.mjs's own check of required bindings against the official R4
ValueSets (tests/fhir/validate_r4.mjs says what it checks and what it does not).

node must be on PATH and node_modules installed from package-lock.json (`make test` runs `npm ci`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().with_name("validate_r4.mjs")
# Loading the definitions takes about a second; a large Bundle a few more.
TIMEOUT_SECONDS = 60
ERROR_SEVERITIES = frozenset({"error", "fatal"})


class FhirValidatorUnavailable(RuntimeError):
    """node or the pinned medplum packages are missing, or the validator could not run on the input."""


def r4_issues(document: dict[str, Any], *, errors_only: bool = True) -> list[dict[str, str]]:
    """The R4 validation issues of one resource or a Bundle (the Bundle as a whole, and each entry's
    resource on its own), each {"resource": "<Type>/<id>", "severity", "expression", "message"}.

    errors_only=True (the default) keeps severity "error" and "fatal": what makes the document invalid.
    errors_only=False keeps every issue, warnings included: medplum reports a reference to a resource type
    the element does not allow as a warning, and the required-binding check a ValueSet it cannot expand from
    the shipped definitions as "binding not checked: <url> (<why>)". An empty list means valid.

    Raises FhirValidatorUnavailable when node or node_modules is missing or the validator did not run.
    """
    node = shutil.which("node")
    if node is None:
        raise FhirValidatorUnavailable(
            "node is not on PATH: the FHIR R4 validator needs it (apt-get install nodejs)"
        )
    if not (REPO_ROOT / "node_modules" / "@medplum" / "core").is_dir():
        raise FhirValidatorUnavailable(
            f"@medplum/core is not installed in {REPO_ROOT / 'node_modules'}: run `npm ci` (make test does)"
        )
    try:
        completed = subprocess.run(
            [node, str(SCRIPT.relative_to(REPO_ROOT))],
            input=json.dumps(document),
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise FhirValidatorUnavailable(f"the FHIR R4 validator took over {TIMEOUT_SECONDS} s") from error
    if completed.returncode != 0:
        raise FhirValidatorUnavailable(
            f"the FHIR R4 validator exited with {completed.returncode}: {completed.stderr.strip()}"
        )
    issues: list[dict[str, str]] = json.loads(completed.stdout)
    if errors_only:
        return [issue for issue in issues if issue["severity"] in ERROR_SEVERITIES]
    return issues
