"""Static hits: imageattach's middleware against WhiteNoise, ServeStatic,
Starlette ``StaticFiles`` and nginx, on a 20 KB and a 400 KB JPEG.

Every contender is one server process with one worker on loopback, started
once and kept up.  Then, round after round, each (contender, file) pair gets
a short ``wrk`` slice, in an order that changes every round, so slow drifts
of this noisy machine hit everyone alike.  Ratios are taken per round and
their median reported, with the range over the rounds.

With ``--auto``, another server running ours joins each group and requests
each file by its ``format="auto"`` URL path, which negotiates (from a
browser's ``Accept``, sent on every request) to a copy of the same bytes:
its ratio to ours shows what negotiation costs a hit.

    python -m bench static [--duration 1] [--rounds 20] [--quick] [--nice -10] [--profile] [--auto]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import importlib.metadata
import itertools
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from imageattach.stores.fs import HttpExposedFileSystemStore
from imageattach.variants import choose_format

from . import profile, wrk
from .apps.common import PREFIX_VARIABLE, ROOT_VARIABLE, not_found_asgi, not_found_wsgi
from .contenders import GROUPS, HOST, NGINX, OURS_COPY, Contender, build
from .fixtures import File, write_files, write_negotiated_copies
from .procs import Server, cpu_busy_seconds, free_port, machine_lock, running
from .report import TIE, Ratio, Series, table

REPOSITORY = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "static.md"
PREFIX = "__images__"
#: The CPUs that servers and wrk are pinned to.
SERVER_CPU, WRK_CPU = 0, 1
#: Response headers compared across contenders in the verification step.
COMPARED_HEADERS = (
    "content-type",
    "content-length",
    "etag",
    "last-modified",
    "cache-control",
    "vary",
)
#: Chromium's ``Accept`` for images, sent to every contender with ``--auto``.
ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    summary = __doc__.split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench static", description=summary)
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per wrk slice (1)")
    parser.add_argument("--rounds", type=int, default=20, help="slices per contender and file (20)")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1 s: a smoke run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument(
        "--servers",
        default=",".join([*GROUPS, NGINX]),
        help=f"comma-separated subset of: {', '.join([*GROUPS, NGINX])}",
    )
    parser.add_argument(
        "--aa",
        action="store_true",
        help="also run a second copy of ours under each server as a peer (an A/A test: "
        "its ratio shows the noise floor)",
    )
    parser.add_argument(
        "--auto",
        action="store_true",
        help="also run ours requested by format=auto URL paths, each negotiating to the same "
        "bytes, and send a browser's Accept header to every contender",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and wrk to CPUs")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run servers and wrk at this niceness, e.g. -10 (as root) on a machine "
        "that others are using (0)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, sample our servers with py-spy (profile-*.txt beside --output)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"report file ({RESULTS})")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.rounds, arguments.duration = 2, 1.0
    unknown = set(arguments.servers.split(",")) - {*GROUPS, NGINX}
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    if arguments.rounds < 1 or arguments.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    return arguments


def ours_available(root: Path) -> tuple[bool, bool, str]:
    """Whether our WSGI and ASGI middlewares are built, and why not."""
    store = HttpExposedFileSystemStore(root, PREFIX)
    found, reasons = [], []
    for interface, wrap, app in (
        ("WSGI", store.wsgi_middleware, not_found_wsgi),
        ("ASGI", store.asgi_middleware, not_found_asgi),
    ):
        try:
            wrap(app)
        except (NotImplementedError, ImportError) as error:
            found.append(False)
            reasons.append(f"ours ({interface}) left out: {type(error).__name__}: {error}")
        else:
            found.append(True)
    return found[0], found[1], "\n".join(reasons)


def fetch(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        connection.close()


def verify(
    contender: Contender, port: int, file: File, accept: str | None = None
) -> tuple[str | None, dict[str, str]]:
    """``(problem or None, headers)``: the contender must answer 200 with the
    exact bytes and an image/jpeg type (an auto URL: the negotiated type and
    ``Vary: Accept``), or its numbers mean nothing."""
    sent = {"Accept": accept} if accept else {}
    status, headers, body = fetch(port, contender.url_path(file.path), sent)
    if status != 200:
        return f"status {status}", headers
    if body != file.data:
        return f"{len(body)} bytes that are not the file's {len(file.data)}", headers
    expected = (choose_format(accept) or "image/jpeg") if contender.auto else "image/jpeg"
    if not headers.get("content-type", "").startswith(expected):
        return f"Content-Type {headers.get('content-type')!r}", headers
    if contender.auto and "accept" not in headers.get("vary", "").lower():
        return f"Vary {headers.get('vary')!r}, not Accept", headers
    return None, headers


def run_wrk(
    url: str, arguments: argparse.Namespace, duration: float, prefix: tuple[str, ...]
) -> wrk.Result:
    """:func:`wrk.run`, sending :data:`ACCEPT` with ``--auto``."""
    return wrk.run(
        url,
        duration=duration,
        threads=arguments.threads,
        connections=arguments.connections,
        prefix=prefix,
        headers=(f"Accept: {ACCEPT}",) if arguments.auto else (),
    )


def versions() -> str:
    names = ["granian", "gunicorn", "uvicorn", "h11", "httptools", "uvloop"]
    names += ["whitenoise", "servestatic", "starlette"]
    found = []
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    for command in (["nginx", "-v"], ["wrk", "-v"]):
        output = subprocess.run(command, capture_output=True, text=True, check=False)
        first = (output.stdout + output.stderr).strip().splitlines()
        if first:
            found.append(first[0].replace("nginx version: ", ""))
    return ", ".join(found)


def git_revision() -> str:
    def git(*args: str) -> str:
        output = subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=REPOSITORY, check=False
        )
        return output.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    serving = ("imageattach/middleware", "imageattach/stores/fs.py")
    dirty = git("status", "--porcelain", "--", *serving)
    return f"{head}{' + uncommitted serving code' if dirty else ''}"


@dataclass(frozen=True)
class Sample:
    """One timed slice: what ``wrk`` saw, and the CPU time the server used.

    Requests per CPU-second hardly moves when other processes take turns on
    the server's CPU, so it cross-checks a throughput ratio on a busy machine.
    """

    result: wrk.Result
    cpu_seconds: float
    duration: float
    #: CPU time that other processes took on the server's CPU (when pinned).
    foreign_cpu_seconds: float = 0.0

    @property
    def per_cpu_second(self) -> float:
        return self.result.requests / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def cpu_use(self) -> float:
        return self.cpu_seconds / self.duration

    @property
    def foreign_cpu_use(self) -> float:
        return self.foreign_cpu_seconds / self.duration


Samples = dict[tuple[str, str], list[Sample]]


def schedule(contenders: list[Contender], round_: int) -> list[Contender]:
    """The order of one round: contenders of one server stay next to each
    other (ours and its peers a few seconds apart); the servers' order is
    reversed every other round and rotated every two."""
    groups = [list(g) for _, g in itertools.groupby(contenders, key=lambda c: c.server)]
    if round_ % 2:
        groups = [group[::-1] for group in groups[::-1]]
    shift = (round_ // 2) % len(groups)
    return [c for group in groups[shift:] + groups[:shift] for c in group]


def measure(
    contenders: list[Contender],
    servers: dict[str, Server],
    files: list[File],
    arguments: argparse.Namespace,
    wrk_prefix: tuple[str, ...],
    *,
    pinned: bool,
) -> Samples:
    """A warm-up slice each, then ``rounds`` rounds of one slice per
    (contender, file) in the order of :func:`schedule`."""
    samples: Samples = {}

    def slice_(contender: Contender, file: File, duration: float) -> Sample:
        server = servers[contender.key]
        url = f"http://{HOST}:{server.port}{contender.url_path(file.path)}"
        cpu_before, busy_before = server.cpu_seconds(), cpu_busy_seconds(SERVER_CPU)
        result = run_wrk(url, arguments, duration, wrk_prefix)
        cpu = server.cpu_seconds() - cpu_before
        foreign = cpu_busy_seconds(SERVER_CPU) - busy_before - cpu if pinned else 0.0
        return Sample(result, cpu, max(1, round(duration)), max(0.0, foreign))

    log("warming up")
    for file in files:
        for contender in contenders:
            slice_(contender, file, 1)
    for round_ in range(arguments.rounds):
        for file in files:
            for contender in schedule(contenders, round_):
                sample = slice_(contender, file, arguments.duration)
                samples.setdefault((contender.key, file.label), []).append(sample)
                result, problems = sample.result, ""
                if result.non_2xx or result.socket_errors:
                    problems = f"  ({result.non_2xx} non-2xx, {result.socket_errors} socket errors)"
                log(
                    f"[round {round_ + 1}/{arguments.rounds}] {file.label:>6}  "
                    f"{contender.key:<40} {result.requests_per_second:>9,.0f} req/s "
                    f"{sample.per_cpu_second:>9,.0f} req/CPU-s {sample.cpu_use:4.0%} CPU"
                    + (f" ({sample.foreign_cpu_use:.0%} others)" if pinned else "")
                    + problems
                )
    return samples


def render(contenders: list[Contender], files: list[File], samples: Samples) -> str:
    """The comparison tables: ours against the peers under the same server,
    and every contender against nginx."""
    rates = {
        key: Series(tuple(s.result.requests_per_second for s in values))
        for key, values in samples.items()
    }
    efficiency = {
        key: Series(tuple(s.per_cpu_second for s in values)) for key, values in samples.items()
    }
    cpu_use = {key: Series(tuple(s.cpu_use for s in values)) for key, values in samples.items()}
    servers = list(dict.fromkeys(c.server for c in contenders if c.server != NGINX))
    rows = []
    for server in servers:
        ours = next((c for c in contenders if c.server == server and c.ours), None)
        peers = [c for c in contenders if c.server == server and not (c.ours or c.auto)]
        for file in files:
            comparisons = [(peer.name, [peer]) for peer in peers]
            real_peers = [peer for peer in peers if peer.name != OURS_COPY]
            if len(real_peers) > 1:
                comparisons.append(("faster of the two, per round", real_peers))
            for name, against in comparisons:
                keys = [(peer.key, file.label) for peer in against]
                peer_rate = str(rates[keys[0]]) if len(keys) == 1 else ""
                if ours is None:
                    rows.append([server, file.label, "not built", name, peer_rate, "", "", ""])
                    continue
                mine = (ours.key, file.label)
                ratio = Ratio.of(rates[mine], [rates[key] for key in keys])
                per_cpu = Ratio.of(efficiency[mine], [efficiency[key] for key in keys])
                cells = [str(rates[mine]), name, peer_rate, str(ratio), str(per_cpu)]
                rows.append([server, file.label, *cells, ratio.verdict])
    header = ["Server", "File", "ours req/s", "Peer", "peer req/s", "ours/peer"]
    output = [table([*header, "ours/peer per CPU-s", "verdict"], rows)]
    nginx = next((c for c in contenders if c.name == NGINX), None)
    if nginx is not None:
        nginx_rows = []
        for file in files:
            reference = (nginx.key, file.label)
            for contender in contenders:
                key = (contender.key, file.label)
                to_nginx = Ratio.of(rates[key], [rates[reference]])
                per_cpu = Ratio.of(efficiency[key], [efficiency[reference]])
                cells = [str(rates[key]), f"{cpu_use[key].median:.0%}", str(to_nginx), str(per_cpu)]
                nginx_rows.append([contender.key, file.label, *cells])
        header = ["Contender", "File", "req/s", "server CPU", "to nginx", "to nginx per CPU-s"]
        output.append(table(header, nginx_rows))
    auto_rows = []
    for auto in (c for c in contenders if c.auto):
        plain = next((c for c in contenders if c.server == auto.server and c.ours), None)
        for file in files:
            if plain is None:
                continue
            mine, reference = (auto.key, file.label), (plain.key, file.label)
            ratio = Ratio.of(rates[mine], [rates[reference]])
            per_cpu = Ratio.of(efficiency[mine], [efficiency[reference]])
            cells = [str(rates[mine]), str(rates[reference]), str(ratio), str(per_cpu)]
            auto_rows.append([auto.server, file.label, *cells, ratio.verdict])
    if auto_rows:
        header = ["Server", "File", "auto req/s", "plain req/s", "auto/plain"]
        output.append(table([*header, "auto/plain per CPU-s", "verdict"], auto_rows))
    return "\n\n".join(output)


def verify_all(
    contenders: list[Contender], ports: dict[str, int], files: list[File], accept: str | None
) -> tuple[list[Contender], list[str], dict[str, dict[str, str]]]:
    """The contenders that serve every file right, the others' problems, and
    each contender's response headers for the first file."""
    passed: list[Contender] = []
    failures: list[str] = []
    headers_seen: dict[str, dict[str, str]] = {}
    for contender in contenders:
        problems = []
        for file in files:
            problem, headers = verify(contender, ports[contender.key], file, accept)
            headers_seen.setdefault(contender.key, headers)
            if problem:
                problems.append(f"{file.label}: {problem}")
        if problems:
            failures.append(f"{contender.key}: left out, " + "; ".join(problems))
            log(failures[-1])
        else:
            passed.append(contender)
    return passed, failures, headers_seen


def profile_ours(
    contenders: list[Contender],
    servers: dict[str, Server],
    files: list[File],
    arguments: argparse.Namespace,
    wrk_prefix: tuple[str, ...],
) -> list[Path]:
    """Profile each of our contenders on each file; the summaries' paths."""
    directory = arguments.output.parent
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    seconds = max(round(arguments.duration), 5)
    for contender in (c for c in contenders if c.ours):
        server = servers[contender.key]
        assert server.process is not None
        for file in files:
            slug = re.sub(r"[^a-z0-9]+", "-", f"{contender.server} {file.label}".lower()).strip("-")
            raw = directory / f"profile-{slug}.raw"
            result = profile.record(
                server.process.pid,
                f"http://{HOST}:{server.port}{contender.url_path(file.path)}",
                raw,
                duration=seconds,
                threads=arguments.threads,
                connections=arguments.connections,
                wrk_prefix=wrk_prefix,
            )
            summary = directory / f"profile-{slug}.txt"
            text = profile.summarize(raw, seconds=seconds, requests=result.requests)
            summary.write_text(
                f"{contender.key}, {file.label}: {result.requests_per_second:,.0f} req/s "
                f"while sampled\n\n{text}\n"
            )
            log(f"profiled {contender.key} on {file.label}: {summary}")
            written.append(summary)
    return written


def describe(
    argv: Sequence[str] | None,
    arguments: argparse.Namespace,
    pinned: bool,
    files: list[File],
    samples: Samples,
    revision: str,
) -> list[str]:
    """The report's opening: command, date, revision, machine and method."""
    foreign = [s.foreign_cpu_use for values in samples.values() for s in values]
    load = (
        f" Other processes took a median {statistics.median(foreign):.0%} (at most "
        f"{max(foreign):.0%}) of the servers' CPU during the slices."
        if pinned and foreign
        else ""
    )
    command = " ".join(["python -m bench static", *(argv if argv is not None else sys.argv[1:])])
    sizes = ", ".join(f"{f.label} = {len(f.data):,} bytes ({f.path})" for f in files)
    return [
        "# Static-serving benchmark",
        "",
        f"`{command}` — {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, "
        f"imageattach {revision}",
        "",
        f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}; "
        f"{versions()}.",
        f"One worker process per server; wrk -t{arguments.threads} -c{arguments.connections}, "
        f"{arguments.rounds} rounds x {arguments.duration:g} s per contender and file, "
        + ("servers pinned to CPU 0 and wrk to CPU 1" if pinned else "no CPU pinning")
        + (f", both at niceness {arguments.nice}." if arguments.nice else ".")
        + f" Files: {sizes}."
        + (
            f" Every request sends `Accept: {ACCEPT}`; the auto URL paths negotiate to "
            "copies of the files' bytes, served as image/avif."
            if arguments.auto
            else ""
        ),
        "req/s: median ±half the range over the rounds; ratios: median of the per-round "
        "ratios and its distribution-free 95 % confidence interval (the whole range with "
        f"fewer than 6 rounds); a tie is within ±{TIE:.0%}. Per CPU-s: requests per CPU-second "
        "of the server's processes, which others' load on the machine hardly moves." + load,
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        with machine_lock():
            return run(arguments, argv)
    except KeyboardInterrupt:
        log("interrupted: every server this run started is stopped")
        return 130


def run(arguments: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Everything :func:`main` does; Ctrl-C, ``SIGTERM`` or ``SIGHUP`` stop it
    with a ``KeyboardInterrupt`` once the servers are stopped."""
    if shutil.which("wrk") is None:
        log("wrk is not installed: apt-get install wrk (scripts/install-system-deps.sh)")
        return 2
    if arguments.profile and profile.py_spy() is None:
        log("--profile needs py-spy: pip install py-spy (the bench extra)")
        return 2
    selected = arguments.servers.split(",")
    if NGINX in selected and shutil.which("nginx") is None:
        log("nginx is not installed (apt-get install nginx-light): leaving it out")
        selected.remove(NGINX)
    pinned = not arguments.no_pin and (os.cpu_count() or 1) >= 2 and bool(shutil.which("taskset"))
    niceness = ("nice", "-n", str(arguments.nice)) if arguments.nice else ()
    server_prefix = (*niceness, *(("taskset", "-c", str(SERVER_CPU)) if pinned else ()))
    wrk_prefix = (*niceness, *(("taskset", "-c", str(WRK_CPU)) if pinned else ()))

    revision = git_revision()  # what the servers about to start import
    with tempfile.TemporaryDirectory(prefix="imageattach-bench-") as temp_name:
        temp = Path(temp_name)
        root, nginx_dir = temp / "images", temp / "nginx"
        nginx_dir.mkdir()
        log("making the JPEG files")
        files = write_files(HttpExposedFileSystemStore(root, PREFIX))
        if arguments.auto:
            write_negotiated_copies(root, files, ACCEPT)
        # nginx's worker drops root privileges: let it read the tree.
        for directory, _, _ in os.walk(temp):
            os.chmod(directory, 0o755)

        ours_wsgi, ours_asgi, why_not = ours_available(root)
        if why_not:
            log(why_not)
        contenders = build(
            selected,
            ours_wsgi=ours_wsgi,
            ours_asgi=ours_asgi,
            prefix=PREFIX,
            nginx_dir=nginx_dir,
            root=root,
            ours_copy=arguments.aa,
            ours_auto=arguments.auto,
        )
        env = dict(os.environ)
        env.update({ROOT_VARIABLE: str(root), PREFIX_VARIABLE: PREFIX})
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
        ports = {c.key: free_port() for c in contenders}
        servers = {
            c.key: Server(
                c.key,
                [*server_prefix, *c.command(ports[c.key])],
                ports[c.key],
                log_path=temp / f"server-{index}.log",
                env=env,
                cwd=REPOSITORY,
            )
            for index, c in enumerate(contenders)
        }
        ready = {c.key: c.url_path(files[0].path) for c in contenders}
        log(f"starting {len(servers)} servers")
        with running(list(servers.values()), ready):
            accept = ACCEPT if arguments.auto else None
            measured, failures, headers_seen = verify_all(contenders, ports, files, accept)
            estimate = len(measured) * len(files) * (arguments.rounds * arguments.duration + 1)
            log(f"measuring {len(measured)} contenders, about {estimate / 60:.0f} min")
            samples = measure(measured, servers, files, arguments, wrk_prefix, pinned=pinned)
            profiles = (
                profile_ours(measured, servers, files, arguments, wrk_prefix)
                if arguments.profile
                else []
            )

    header_rows = [
        [c.key, *(headers_seen[c.key].get(name, "-") for name in COMPARED_HEADERS)]
        for c in measured
    ]
    report = "\n".join(
        [
            *describe(argv, arguments, pinned, files, samples, revision),
            render(measured, files, samples),
            "",
            *(["Left out: " + "; ".join(failures), ""] if failures else []),
            *([why_not.replace("\n", "; "), ""] if why_not else []),
            f"Response headers ({files[0].label} file):",
            "",
            table(["Contender", *COMPARED_HEADERS], header_rows),
            "",
            *([f"Profiles: {', '.join(p.name for p in profiles)}", ""] if profiles else []),
        ]
    )
    print(report)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(report)
    log(f"written to {arguments.output}")
    return 0
