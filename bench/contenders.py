"""Who is measured in the static benchmark, under which server, with which command."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from imageattach.variants import auto_path

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Contender:
    """One app under one server: a process of its own on its own port."""

    server: str
    #: ``"ours"`` for imageattach, else the peer's name.
    name: str
    #: The command line for a port.
    command: Callable[[int], list[str]]
    #: The URL path the files are under (ours: the store's prefix).
    url_prefix: str
    #: Requests the file by its ``format="auto"`` URL path (``….auto.jpe``).
    auto: bool = False

    def url_path(self, path: str) -> str:
        """The URL path this contender serves the stored file ``path`` at."""
        return self.url_prefix + (auto_path(path) if self.auto else path)

    @property
    def key(self) -> str:
        return self.name if self.server == self.name else f"{self.server} / {self.name}"

    @property
    def ours(self) -> bool:
        return self.name == OURS


OURS = "ours"
OURS_COPY = "ours (A/A copy)"
OURS_AUTO = "ours, auto URL"


def gunicorn(worker: str) -> Callable[[str], Callable[[int], list[str]]]:
    threads = ["--threads", "4"] if worker == "gthread" else []

    def for_target(target: str) -> Callable[[int], list[str]]:
        return lambda port: [
            *(sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", worker),
            *threads,
            *("--bind", f"{HOST}:{port}", "--log-level", "warning", f"{target}()"),
        ]

    return for_target


def granian(interface: str) -> Callable[[str], Callable[[int], list[str]]]:
    def for_target(target: str) -> Callable[[int], list[str]]:
        return lambda port: [
            *(sys.executable, "-m", "granian", "--interface", interface, "--workers", "1"),
            *("--host", HOST, "--port", str(port), "--no-ws", "--log-level", "warning"),
            *("--factory", target),
        ]

    return for_target


def uvicorn(target: str) -> Callable[[int], list[str]]:
    return lambda port: [
        *(sys.executable, "-m", "uvicorn", "--host", HOST, "--port", str(port)),
        *("--lifespan", "off", "--no-access-log", "--log-level", "warning", "--factory", target),
    ]


WHITENOISE = ("WhiteNoise", "bench.apps.whitenoise_peer:wsgi")
SERVESTATIC = ("ServeStatic", "bench.apps.servestatic_peer:asgi")
STARLETTE = ("Starlette StaticFiles", "bench.apps.starlette_peer:asgi")

Builder = Callable[[str], Callable[[int], list[str]]]

#: ``--servers`` key → (label, interface, command builder, peers).
GROUPS: dict[str, tuple[str, str, Builder, list[tuple[str, str]]]] = {
    "gunicorn-sync": ("gunicorn sync, WSGI", "wsgi", gunicorn("sync"), [WHITENOISE]),
    "gunicorn-gthread": ("gunicorn gthread, WSGI", "wsgi", gunicorn("gthread"), [WHITENOISE]),
    "granian-wsgi": ("granian, WSGI", "wsgi", granian("wsgi"), [WHITENOISE]),
    "granian-asgi": ("granian, ASGI", "asgi", granian("asgi"), [SERVESTATIC]),
    "uvicorn": ("uvicorn, ASGI", "asgi", uvicorn, [SERVESTATIC, STARLETTE]),
}
NGINX = "nginx"


def nginx_config(directory: Path, root: Path, port: int) -> str:
    """A foreground nginx with one worker and sendfile serving ``root`` at ``/``."""
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
master_process on;
worker_processes 1;
pid {directory / "nginx.pid"};
error_log {directory / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
{temp}
    types {{ image/jpeg jpe jpeg jpg; }}
    default_type application/octet-stream;
    server {{
        listen {HOST}:{port};
        root {root};
    }}
}}
"""


def build(
    selected: list[str],
    *,
    ours_wsgi: bool,
    ours_asgi: bool,
    prefix: str,
    nginx_dir: Path,
    root: Path,
    ours_copy: bool = False,
    ours_auto: bool = False,
) -> list[Contender]:
    """The contenders of the ``selected`` groups, ours first in each group.
    Ours is left out where its middleware is not built yet.  With
    ``ours_copy``, a second server running ours joins each group as a peer:
    an A/A comparison whose ratio shows the measurement's own noise.  With
    ``ours_auto``, another server running ours joins each group, requesting
    each file by its ``format="auto"`` URL path."""
    contenders = []
    for key in selected:
        if key == NGINX:
            config = nginx_dir / "nginx.conf"

            def nginx_command(port: int, config: Path = config) -> list[str]:
                config.write_text(nginx_config(nginx_dir, root, port))
                return ["nginx", "-p", str(nginx_dir), "-c", str(config)]

            contenders.append(Contender(NGINX, NGINX, nginx_command, "/"))
            continue
        label, interface, command, peers = GROUPS[key]
        if ours_wsgi if interface == "wsgi" else ours_asgi:
            target = f"bench.apps.ours:{interface}"
            contenders.append(Contender(label, OURS, command(target), f"/{prefix}/"))
            if ours_copy:
                contenders.append(Contender(label, OURS_COPY, command(target), f"/{prefix}/"))
            if ours_auto:
                auto = Contender(label, OURS_AUTO, command(target), f"/{prefix}/", auto=True)
                contenders.append(auto)
        for name, target in peers:
            contenders.append(Contender(label, name, command(target), "/"))
    return contenders
