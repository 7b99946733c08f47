"""The OpenAPI description served by the app is valid and matches the endpoints."""

from __future__ import annotations

import re
from pathlib import Path

import requests
from openapi_spec_validator import validate

from lifecycle.ingestion.openapi import ERROR_CODES

INGESTION_SOURCES = Path(__file__).resolve().parent.parent / "lifecycle" / "ingestion"


def test_openapi_served_and_valid(live_server):
    response = requests.get(f"{live_server.url}/v1/openapi.json", timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    document = response.json()
    validate(document)
    assert set(document["paths"]) == {
        "/v1/batch",
        "/v1/track",
        "/v1/identify",
        "/v1/group",
        "/v1/page",
    }
    batch = document["paths"]["/v1/batch"]["post"]
    assert "512000 bytes" in batch["description"]
    assert "Retry-After" in batch["responses"]["429"]["headers"]


def test_documented_error_codes_match_code():
    # Every code the ingestion package returns is documented, and every documented code
    # is returned somewhere: the codes are read from the source that raises them.
    source = "\n".join(
        path.read_text() for path in INGESTION_SOURCES.glob("*.py") if path.name != "openapi.py"
    )
    raised = re.findall(
        r'(?:InvalidMessage|WriteKeyError|ApiError)\(\s*(?:\d+,\s*)?"([a-z_]+)"', source
    )
    literal = re.findall(r'"code": "([a-z_]+)"', source)
    assert set(raised) | set(literal) == set(ERROR_CODES)


def test_docs_list_every_error_code():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "ingestion.md").read_text()
    documented = set(re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", docs, re.M))
    assert documented == {(str(status), code) for code, (status, _) in ERROR_CODES.items()}
