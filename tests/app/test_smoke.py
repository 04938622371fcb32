async def test_healthz_reports_current_migrations(client):
    response = await client.get("/healthz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["database"] == "ok" and body["migrations"] == "current"


async def test_litestar_refusals_are_worded_in_vietnamese_first(client):
    missing = await client.get("/api/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Không tìm thấy / Not Found"
