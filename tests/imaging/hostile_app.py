"""The app the hostile-corpus tests run under real servers (gunicorn for
WSGI, uvicorn for ASGI), set up from the environment: ``IA_ROOT`` (store
directory and SQLite database), ``IA_KEY`` (resize URL key), ``IA_TIME``
and ``IA_MEMORY`` (the store's ``ImageLimits``) and ``IA_WORKERS`` (the
decoding workers).

- ``POST /upload``: the body is attached with ``from_blob`` and committed;
  201 with ``WxH``, 422 with the message of an ``ImageError``, 503 for
  ``ImagingUnavailableError``.
- ``GET /health``: 200 with this process's pid (a crashed and restarted
  worker process would answer with another).
- everything under ``/__images__/``: the store's middleware, with on-demand
  thumbnails.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from imageattach.imaging import configure_sandbox  # before wand (policy)

# isort: split
import anyio.to_thread
from sqlalchemy import Column, ForeignKey, Integer, create_engine
from sqlalchemy.orm import Session, declarative_base, relationship

from imageattach.context import store_context
from imageattach.entity import Image, image_attachment
from imageattach.exceptions import ImageError, ImagingUnavailableError
from imageattach.limits import ImageLimits
from imageattach.stores.fs import HttpExposedFileSystemStore

ROOT = os.environ["IA_ROOT"]
LIMITS = ImageLimits(time=float(os.environ["IA_TIME"]), memory=int(os.environ["IA_MEMORY"]))
store = HttpExposedFileSystemStore(
    ROOT, "__images__", secret_key=os.environ["IA_KEY"], image_limits=LIMITS
)
configure_sandbox(workers=int(os.environ["IA_WORKERS"]))

Base = declarative_base()


class Upload(Base):  # type: ignore[valid-type,misc]
    __tablename__ = "upload"
    id = Column(Integer, primary_key=True)
    picture = image_attachment("UploadPicture", back_populates="upload")


class UploadPicture(Base, Image):  # type: ignore[valid-type,misc]
    __tablename__ = "upload_picture"
    upload_id = Column(Integer, ForeignKey(Upload.id), primary_key=True)
    upload = relationship(Upload, back_populates="picture")


engine = create_engine(f"sqlite:///{os.path.join(ROOT, 'uploads.sqlite')}")
Base.metadata.create_all(engine)


def upload(body: bytes) -> tuple[int, bytes]:
    """Attach ``body`` as a new upload's picture: status and text."""
    try:
        with Session(engine) as session, store_context(store):
            entity = Upload()
            session.add(entity)
            picture = entity.picture.from_blob(body)
            session.commit()
            return 201, f"{picture.width}x{picture.height}".encode()
    except ImageError as error:
        return 422, str(error).encode()
    except ImagingUnavailableError as error:
        return 503, str(error).encode()


def health() -> tuple[int, bytes]:
    return 200, str(os.getpid()).encode()


_STATUS = {200: "200 OK", 201: "201 Created", 404: "404 Not Found",
           422: "422 Unprocessable Content", 503: "503 Service Unavailable"}  # fmt: skip


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if method == "POST" and path == "/upload":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        status, text = upload(environ["wsgi.input"].read(length))
    elif path == "/health":
        status, text = health()
    else:
        status, text = 404, b"not here"
    start_response(_STATUS[status], [("Content-Type", "text/plain")])
    return [text]


async def _asgi_app(scope: dict[str, Any], receive: Callable[..., Any], send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "POST" and scope["path"] == "/upload":
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        status, text = await anyio.to_thread.run_sync(upload, b"".join(chunks))
    elif scope["path"] == "/health":
        status, text = health()
    else:
        status, text = 404, b"not here"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
    await send({"type": "http.response.body", "body": text})


wsgi_app = store.wsgi_middleware(_app)
asgi_app = store.asgi_middleware(_asgi_app)
