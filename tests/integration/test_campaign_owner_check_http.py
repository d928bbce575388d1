"""`HttpOwnerCheckClient` against a local aiohttp server speaking the documented API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from gateway.campaigns.errors import OwnerCheckError
from gateway.campaigns.ownercheck import BULK_PATH, HttpOwnerCheckClient, OwnerStatus

Handler = Callable[[dict[str, Any]], web.Response]


class Server:
    """A one-route server whose answer the test chooses; it keeps every request body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.answer: Handler = self.database
        self.url = ""

    @staticmethod
    def database(body: dict[str, Any]) -> web.Response:
        results = []
        for q in body["queries"]:
            changed = q["number"].endswith("1")
            results.append(
                {
                    "number": q["number"],
                    "result": "changed" if changed else "unchanged",
                    "last_change_date": "2025-01-15" if changed else None,
                }
            )
        return web.json_response({"results": results})

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        return self.answer(body)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    app = web.Application()
    app.router.add_post(BULK_PATH, srv.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    srv.url = f"http://127.0.0.1:{port}"
    try:
        yield srv
    finally:
        await runner.cleanup()


QUERIES = [(f"+8190000000{i:02d}", date(2024, 4, 1)) for i in range(1, 6)]


@pytest.mark.asyncio
async def test_batches_and_body_shape(server: Server) -> None:
    client = HttpOwnerCheckClient(server.url + "/", batch_size=2)
    answers = await client.check_many(QUERIES)
    assert [len(b["queries"]) for b in server.bodies] == [2, 2, 1]
    assert server.bodies[0]["queries"][0] == {
        "number": "+819000000001",
        "reference_date": "2024-04-01",
    }
    assert answers["+819000000001"].status is OwnerStatus.CHANGED
    assert answers["+819000000001"].last_change_date == date(2025, 1, 15)
    assert answers["+819000000002"].status is OwnerStatus.UNCHANGED
    assert await client.check_many([]) == {}


@pytest.mark.asyncio
async def test_http_error(server: Server) -> None:
    server.answer = lambda body: web.Response(status=503, text="maintenance")
    with pytest.raises(OwnerCheckError, match="HTTP 503: maintenance"):
        await HttpOwnerCheckClient(server.url).check_many(QUERIES)


@pytest.mark.asyncio
async def test_missing_result_is_an_error_not_unchanged(server: Server) -> None:
    server.answer = lambda body: web.json_response({"results": []})
    with pytest.raises(OwnerCheckError, match="no result for 5 numbers"):
        await HttpOwnerCheckClient(server.url).check_many(QUERIES)


@pytest.mark.parametrize(
    "payload",
    [
        {"results": [{"number": "+819000000001", "result": "maybe"}]},
        {"answers": []},
        [],
    ],
)
@pytest.mark.asyncio
async def test_malformed_answers(server: Server, payload: Any) -> None:
    server.answer = lambda body: web.json_response(payload)
    with pytest.raises(OwnerCheckError, match="malformed"):
        await HttpOwnerCheckClient(server.url).check_many(QUERIES)


@pytest.mark.asyncio
async def test_unreachable_service() -> None:
    with pytest.raises(OwnerCheckError, match="failed"):
        await HttpOwnerCheckClient("http://127.0.0.1:9", timeout=2).check_many(QUERIES)
