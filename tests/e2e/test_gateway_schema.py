"""schemathesis against the gateway's OpenAPI document, with a client certificate: no server errors and
every response as documented (status code, content type, body schema)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mdm_desktop.app import AppContext
from tests.conftest import make_config, open_test_app, sign_in_admin
from tests.e2e.gateway_helpers import enrol, make_token, running_gateway

ROOT = Path(__file__).resolve().parents[2]
schema = schemathesis.openapi.from_dict(json.loads((ROOT / "docs" / "openapi-v1.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("schema")
    ctx: AppContext = open_test_app(make_config(f"sqlite:///{tmp / 'store.sqlite3'}", tmp))
    try:
        with running_gateway(ctx) as status:
            ca_pem = ctx.services.enrollment.authority().certificate_pem
            admin = sign_in_admin(ctx)
            _, device = enrol(status, ca_pem, make_token(ctx, admin, status), tmp / "device")
            assert device is not None
            (tmp / "ca.pem").write_text(ca_pem)
            session = requests.Session()
            session.verify = str(tmp / "ca.pem")
            session.cert = (str(device.cert_file), str(device.key_file))
            yield {
                "url": status.url,
                "session": session,
                "verify": str(tmp / "ca.pem"),
                "cert": (str(device.cert_file), str(device.key_file)),
            }
            session.close()
    finally:
        ctx.close()


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_document(case: Any, live: dict[str, Any]) -> None:
    # Server errors and documented responses only: the body models coerce a little (pydantic's lax mode,
    # e.g. false for 0.0), and a path id that differs from the body's is refused on purpose.
    case.call_and_validate(
        base_url=live["url"],
        session=live["session"],
        verify=live["verify"],
        cert=live["cert"],
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
