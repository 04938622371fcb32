import json
from dataclasses import replace

from litestar.testing import AsyncTestClient

from app.auth.models import Role
from app.main import create_app
from tests.support.actors import add_user


async def test_production_logs_are_json_lines_with_request_id_and_user(settings, database_url, engine, capsys):
    await add_user(engine, "lan.officer", Role.officer)
    app = create_app(replace(settings, env="production"), database_url)
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as client:
        login = await client.post("/api/auth/login",
                                  json={"username": "lan.officer", "password": "correct horse battery"})
        assert "secure" in login.headers["set-cookie"].lower()
        response = await client.get("/api/auth/me", headers={"X-Request-ID": "req-42"})
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "req-42"
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    request_lines = [line for line in lines if line.get("event") == "request" and line.get("path") == "/api/auth/me"]
    assert request_lines, lines
    assert request_lines[0]["request_id"] == "req-42"
    assert request_lines[0]["user"] == "lan.officer" and request_lines[0]["status"] == 200


async def test_openapi_document_and_docs_page_are_public(client):
    spec = await client.get("/schema/openapi.json")
    assert spec.status_code == 200
    assert "/api/auth/login" in spec.json()["paths"]
    page = await client.get("/schema")
    assert page.status_code == 200 and "html" in page.headers["content-type"]


async def test_unknown_path_is_problem_json(client):
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
