"""The Starlette/FastAPI middleware: store context in async and threadpool
code, FastAPI dependencies, streamed bodies, and isolated between tasks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import images
import pytest
from entity_models import User
from fastapi import BackgroundTasks, Depends, FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from imageattach import imaging
from imageattach.adapters.starlette import ImageAttachMiddleware
from imageattach.store import Store
from imageattach.stores.fs import HttpExposedFileSystemStore

Current = Callable[[], Store | None]


def make_app(store: Store, current: Current, seen: list[Store | None]) -> Starlette:
    async def async_view(request: Request) -> PlainTextResponse:
        seen.append(current())
        return PlainTextResponse("ok")

    def sync_view(request: Request) -> PlainTextResponse:
        seen.append(current())
        return PlainTextResponse("ok")

    async def fail(request: Request) -> PlainTextResponse:
        seen.append(current())
        raise ZeroDivisionError

    async def async_stream(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(3):
                seen.append(current())
                yield b"%d," % i

        return StreamingResponse(chunks())

    async def sync_stream(request: Request) -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            for i in range(3):
                seen.append(current())
                yield b"%d," % i

        return StreamingResponse(chunks())

    async def websocket(socket: WebSocket) -> None:
        await socket.accept()
        seen.append(current())
        await socket.send_text("hi")
        await socket.close()

    routes = [
        Route("/async", async_view),
        Route("/sync", sync_view),
        Route("/fail", fail),
        Route("/async-stream", async_stream),
        Route("/sync-stream", sync_stream),
        WebSocketRoute("/ws", websocket),
    ]
    return Starlette(routes=routes, middleware=[Middleware(ImageAttachMiddleware, store=store)])


async def get(app: object, path: str) -> httpx.Response:
    """A request through httpx's ASGI transport, which runs the app in the
    calling task, so a store left pushed would show in that task."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


@pytest.mark.parametrize(
    ("path", "body", "calls"),
    [
        ("/async", b"ok", 1),
        ("/sync", b"ok", 1),
        ("/async-stream", b"0,1,2,", 3),
        ("/sync-stream", b"0,1,2,", 3),
    ],
)
def test_endpoint_sees_store_and_context_is_popped_after(
    store: Store, current: Current, path: str, body: bytes, calls: int
) -> None:
    seen: list[Store | None] = []
    app = make_app(store, current, seen)

    async def main() -> None:
        response = await get(app, path)
        assert response.content == body
        assert current() is None

    asyncio.run(main())
    assert seen == [store] * calls


def test_context_is_popped_when_the_endpoint_raises(store: Store, current: Current) -> None:
    seen: list[Store | None] = []
    app = make_app(store, current, seen)

    async def main() -> None:
        with pytest.raises(ZeroDivisionError):
            await get(app, "/fail")
        assert current() is None

    asyncio.run(main())
    assert seen == [store]


def test_websocket_sees_store(store: Store, current: Current) -> None:
    seen: list[Store | None] = []
    app = make_app(store, current, seen)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert seen == [store]


def test_concurrent_tasks_see_their_own_store(
    store: Store, other_store: Store, current: Current
) -> None:
    seen: dict[str, list[Store | None]] = {"a": [], "b": []}

    def app_for(
        name: str, other: str, app_store: Store, entered: dict[str, asyncio.Event]
    ) -> FastAPI:
        app = FastAPI()
        app.add_middleware(ImageAttachMiddleware, store=app_store)

        @app.get("/")
        async def index() -> str:
            seen[name].append(current())
            entered[name].set()
            await asyncio.wait_for(entered[other].wait(), 5)
            seen[name].append(current())
            return name

        return app

    async def main() -> list[str]:
        entered = {"a": asyncio.Event(), "b": asyncio.Event()}
        apps = [app_for("a", "b", store, entered), app_for("b", "a", other_store, entered)]
        responses = await asyncio.gather(*(get(app, "/") for app in apps))
        return [r.json() for r in responses]

    assert asyncio.run(main()) == ["a", "b"]
    assert seen == {"a": [store, store], "b": [other_store, other_store]}


def test_fastapi_dependencies_and_background_tasks_see_store(
    store: Store, current: Current
) -> None:
    seen: dict[str, Store | None] = {}

    def sync_dependency() -> None:
        seen["sync dependency"] = current()

    async def async_dependency() -> None:
        seen["async dependency"] = current()

    def yield_dependency() -> Iterator[None]:
        seen["yield dependency"] = current()
        yield
        seen["yield dependency teardown"] = current()

    def background() -> None:
        seen["background task"] = current()

    app = FastAPI()
    app.add_middleware(ImageAttachMiddleware, store=store)

    @app.get("/async")
    async def async_endpoint(
        tasks: BackgroundTasks,
        _a: None = Depends(sync_dependency),
        _b: None = Depends(async_dependency),
        _c: None = Depends(yield_dependency),
    ) -> str:
        seen["async endpoint"] = current()
        tasks.add_task(background)
        return "ok"

    @app.get("/sync")
    def sync_endpoint() -> str:
        seen["sync endpoint"] = current()
        return "ok"

    async def main() -> None:
        assert (await get(app, "/async")).json() == "ok"
        assert (await get(app, "/sync")).json() == "ok"

    asyncio.run(main())
    assert seen == {
        name: store
        for name in (
            "sync dependency",
            "async dependency",
            "yield dependency",
            "yield dependency teardown",
            "async endpoint",
            "background task",
            "sync endpoint",
        )
    }


def test_lifespan_passes_through(store: Store) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = Starlette(lifespan=lifespan, middleware=[Middleware(ImageAttachMiddleware, store=store)])
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan", "state": {}}, receive, send))  # type: ignore[arg-type]
    assert events == ["startup", "shutdown"]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_store_must_be_a_store() -> None:
    with pytest.raises(TypeError):
        ImageAttachMiddleware(Starlette(), store="nope")  # type: ignore[arg-type]


def make_upload_app(engine: Engine, store: HttpExposedFileSystemStore) -> FastAPI:
    factory = sessionmaker(engine)
    app = FastAPI()
    app.add_middleware(ImageAttachMiddleware, store=store)

    @app.put("/picture")
    async def upload(request: Request, fail: bool = False) -> str:
        data = await request.body()
        return await run_in_threadpool(store_picture, data, fail)

    def store_picture(data: bytes, fail: bool) -> str:
        with factory() as session:
            user = session.get_one(User, 1)
            user.picture.from_blob(data)
            session.flush()  # the file is written now
            if fail:
                raise RuntimeError("something after the upload failed")
            session.commit()
        return "uploaded"

    @app.get("/show")
    def show() -> list[str]:
        with factory() as session:
            picture = session.get_one(User, 1).picture
            return [picture.locate(), picture.locate(width=60)]

    return app


@pytest.mark.parametrize("fail", [False, True])
def test_upload_committed_or_rolled_back_and_served(
    db: sessionmaker[Session],
    engine: Engine,
    http_store: HttpExposedFileSystemStore,
    stored_files: Callable[[HttpExposedFileSystemStore], list[str]],
    fail: bool,
) -> None:
    with db() as session:
        session.add(User(id=1))
        session.commit()
    app = make_upload_app(engine, http_store)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            if fail:
                with pytest.raises(RuntimeError, match="after the upload"):
                    await client.put("/picture?fail=true", content=images.jpeg(120, 90))
                assert stored_files(http_store) == []
                return
            response = await client.put("/picture", content=images.jpeg(120, 90))
            assert response.json() == "uploaded"
            assert stored_files(http_store) == ["ia-user-picture/1/0/1.120x90.jpe"]
            original_url, thumbnail_url = (await client.get("/show")).json()
            assert original_url.startswith("http://test/__images__/ia-user-picture/1/0/")
            original = await client.get(original_url)
            assert (original.status_code, original.headers["content-type"]) == (200, "image/jpeg")
            thumbnail = await client.get(thumbnail_url)
            assert thumbnail.status_code == 200
            info = imaging.probe(thumbnail.content)
            assert (info.width, info.height) == (60, 45)

    asyncio.run(main())
