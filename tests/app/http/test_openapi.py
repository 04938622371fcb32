"""The OpenAPI document describes what banks and scripts use: who may call, bodies, files and errors."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

PROBLEM = {"$ref": "#/components/schemas/Problem"}
BANK = [{"bankApiKey": []}]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def document(client) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return document["paths"][path][method]


def _parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in operation["parameters"] if p["name"] == name)


async def test_the_document_is_valid_openapi(document):
    validate(document)


async def test_bank_key_and_staff_session_are_security_schemes_used_per_operation(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["bankApiKey"]["type"] == "http" and schemes["bankApiKey"]["scheme"] == "bearer"
    assert schemes["staffSession"] == {**schemes["staffSession"], "type": "apiKey", "in": "cookie",
                                       "name": "ansinh_session"}
    assert _operation(document, "get", "/api/bank/payment-orders")["security"] == BANK
    assert _operation(document, "post", "/api/bank/withdrawals")["security"] == BANK
    assert _operation(document, "get", "/api/reports/monthly")["security"] == [{"staffSession": []}]
    # A bank key or an officer's session (who names the bank): either one.
    assert _operation(document, "post", "/api/bank/statements")["security"] == [{"bankApiKey": []},
                                                                                {"staffSession": []}]
    assert "security" not in _operation(document, "post", "/api/auth/login")  # public


@pytest.mark.parametrize("path", ["/api/bank/statements", "/api/bank/withdrawals"])
async def test_uploads_document_their_multipart_file(document, path):
    body = _operation(document, "post", path)["requestBody"]
    multipart = body["content"]["multipart/form-data"]["schema"]
    assert multipart["required"] == ["file"]
    assert multipart["properties"]["file"] == {**multipart["properties"]["file"], "type": "string", "format": "binary"}
    assert body["required"] is True


async def test_withdrawals_also_take_a_json_list(document):
    json_body = _operation(document, "post", "/api/bank/withdrawals")["requestBody"]["content"]["application/json"]
    listed = json_body["schema"]["oneOf"][0]
    assert listed["type"] == "array"
    assert set(listed["items"]["required"]) == {"account_number", "occurred_at", "amount", "channel", "bank_ref"}
    assert listed["items"]["properties"]["amount"]["type"] == "integer"


@pytest.mark.parametrize(("method", "path", "statuses"), [
    ("post", "/api/bank/statements", {"400", "401", "403", "404", "422"}),
    ("post", "/api/bank/withdrawals", {"400", "401", "403", "422"}),
    ("get", "/api/bank/payment-orders", {"400", "401", "403", "404", "422"}),
    ("get", "/api/bank/payment-orders/batches/{message_id}", {"400", "401", "403", "404"}),
    ("get", "/api/bank/statements", {"400", "401", "403"}),
    ("post", "/api/payout-runs/{run_id}/approve", {"400", "401", "403", "404", "409", "422"}),
    ("post", "/api/beneficiaries/import", {"400", "401", "403", "422"}),
])
async def test_errors_are_problem_json_referring_to_one_problem_schema(document, method, path, statuses):
    responses = _operation(document, method, path)["responses"]
    errors = {code: response for code, response in responses.items() if code.startswith(("4", "5"))}
    assert statuses <= errors.keys(), errors.keys()
    for code, response in errors.items():
        assert response["content"] == {"application/problem+json": {"schema": PROBLEM}}, (code, response)
        assert response["description"]


async def test_no_api_operation_documents_litestar_s_own_error_shape(document):
    for path, item in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if code.startswith("4"):
                    assert "application/json" not in response.get("content", {}), (method, path, code)


async def test_the_problem_schema_is_rfc9457_with_row_errors(document):
    schemas = document["components"]["schemas"]
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "status", "title", "detail"}
    row = schemas["ProblemRow"]
    assert {"row", "column", "message", "message_en"} <= row["properties"].keys()
    assert set(row["required"]) == {"row", "column", "message"}


async def test_operations_carry_their_docstrings_and_parameters_their_meaning(document):
    orders = _operation(document, "get", "/api/bank/payment-orders")
    assert "request_id" in orders["description"] and "limit" in orders["description"]
    assert "fetch" in _parameter(orders, "request_id")["description"]
    assert "X-More-Orders" in _parameter(orders, "limit")["description"]
    assert orders["responses"]["200"]["headers"]["X-More-Orders"]["schema"]["type"] == "string"
    statements = _operation(document, "post", "/api/bank/statements")
    assert "already_imported" in statements["description"]
    assert "nothing stored" in _parameter(statements, "dry_run")["description"] or \
        "without storing" in _parameter(statements, "dry_run")["description"]
    assert "already_imported" in statements["responses"]["200"]["description"]
    assert statements["responses"]["201"]
    missing = [f"{method} {path}" for path, item in document["paths"].items() if path.startswith("/api/")
               for method, operation in item.items() if not operation.get("description")]
    assert missing == []


async def test_payment_orders_declare_their_formats_and_files(document):
    orders = _operation(document, "get", "/api/bank/payment-orders")
    assert _parameter(orders, "format")["schema"]["enum"] == ["json", "csv", "pain001"]
    assert _parameter(orders, "status")["schema"]["enum"] == ["sent", "credited", "returned"]
    content = orders["responses"]["200"]["content"]
    assert {"application/json", "text/csv", "application/xml"} <= content.keys()
    assert content["text/csv"]["schema"]["format"] == "binary"
    batch = _operation(document, "get", "/api/bank/payment-orders/batches/{message_id}")
    assert {"text/csv", "application/xml"} <= batch["responses"]["200"]["content"].keys()


async def test_reports_declare_their_workbooks(document):
    monthly = _operation(document, "get", "/api/reports/monthly")
    assert list(monthly["responses"]["200"]["content"]) == [XLSX]
    assert _parameter(monthly, "format")["schema"]["enum"] == ["xlsx"]
    follow_up = _operation(document, "get", "/api/reports/follow-up")
    assert {"application/json", XLSX} <= follow_up["responses"]["200"]["content"].keys()
    assert _parameter(follow_up, "format")["schema"]["enum"] == ["json", "xlsx"]
    runs = _operation(document, "get", "/api/payout-runs/{run_id}/orders")
    assert set(runs["responses"]["200"]["content"]) == {XLSX, "text/csv", "application/xml"}
    group_by = _parameter(_operation(document, "get", "/api/reports/time-to-withdrawal"), "group_by")
    assert "province" in group_by["schema"]["enum"]


async def test_enums_do_not_change_what_a_bad_value_is_told(client, engine):
    """The handler still words the refusal (400, Vietnamese / English), the document only lists the values."""
    from tests.support.actors import bank_key

    headers = await bank_key(engine, "970436")
    response = await client.get("/api/bank/payment-orders", params={"format": "pdf"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["detail"] == "Định dạng phải là json, csv hoặc pain001 / format must be json, csv or pain001"
