async def test_healthz_reports_current_migrations(client):
    response = await client.get("/healthz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["database"] == "ok" and body["migrations"] == "current"
