"""Run as a script (tests/test_metrics.py): with prometheus_client and
opentelemetry made unimportable, serving, on-demand generation and the
instrumented code work, and turning metrics or tracing on says which extra
to install.  Prints ``ok``."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import io
import sys
import tempfile
from collections.abc import Callable, Sequence
from types import ModuleType

BLOCKED = ("prometheus_client", "opentelemetry")


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked for this test")
        return None


def main() -> None:
    sys.meta_path.insert(0, Blocker())

    import imageattach.imaging  # noqa: F401  (the policy before wand loads)

    # isort: split
    from images import jpeg
    from middleware.clients import WSGIClient, wsgi_app
    from originals import KEY, Original

    from imageattach import metrics, tracing
    from imageattach.exceptions import ConfigurationError
    from imageattach.stores.fs import HttpExposedFileSystemStore

    host = "http://testserver"
    store = HttpExposedFileSystemStore(
        tempfile.mkdtemp(), "__images__", lambda: host + "/", secret_key=KEY
    )
    store.put_file(io.BytesIO(jpeg(64, 48)), "user-picture", 7, 64, 48, "image/jpeg", False)
    client = WSGIClient(store.wsgi_middleware(wsgi_app))
    static = store.get_url("user-picture", 7, 64, 48, "image/jpeg").removeprefix(host)
    assert client.request("GET", static).status == 200, "a static hit"
    original = Original("user-picture", 7, 64, 48, "image/jpeg")
    resized = client.request("GET", store.resizer.url(original, 32, 24).removeprefix(host))  # type: ignore[arg-type]
    assert resized.status == 200 and resized.body[:2] == b"\xff\xd8", resized
    assert store.resizer.generations == 1

    refusals: list[tuple[Callable[[], object], str]] = [
        (metrics.enable, "pip install 'imageattach[metrics]'"),
        (metrics.wsgi_app, "pip install 'imageattach[metrics]'"),
        (metrics.asgi_app, "pip install 'imageattach[metrics]'"),
        (tracing.enable, "pip install 'imageattach[tracing]'"),
    ]
    for turn_on, advice in refusals:
        try:
            turn_on()
        except ConfigurationError as error:
            assert advice in str(error), error
        else:
            raise AssertionError(f"{turn_on} did not refuse")
    assert tracing.current_tracer() is None
    assert not [name for name in sys.modules if name.startswith(BLOCKED)]
    store.resizer.shutdown()
    print("ok")


if __name__ == "__main__":
    main()
