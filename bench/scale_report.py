"""What ``python -m bench scale`` checks after each setup's run, and how it
reports: Markdown tables, the ratios of the setups, and every problem."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from imageattach.imaging import probe
from imageattach.stores.s3 import S3Store

from . import loadclient
from .report import table
from .scale_setup import Thumbnail


@dataclass(frozen=True)
class ServerUse:
    """One server's share of a setup's run."""

    requests: int
    #: Thumbnails it made (its log's count).
    generations: int
    cpu_seconds: float
    start_rss: int
    peak_rss: int


@dataclass(frozen=True)
class Outcome:
    """One setup's run, checked."""

    title: str
    run: loadclient.Run
    #: PUTs of each URL's thumbnail, whatever their status.
    puts: list[int]
    servers: dict[str, ServerUse]
    #: Every way the run went wrong; empty when all went right.
    problems: list[str]

    @property
    def urls(self) -> int:
        return len(self.puts)

    def percentile(self, fraction: float) -> float:
        """Latency of the answered requests at ``fraction`` (0.5: median)."""
        latencies = sorted(a.seconds for a in self.run.answers if a.status)
        if not latencies:
            return math.nan
        return latencies[min(len(latencies) - 1, round(fraction * (len(latencies) - 1)))]

    @property
    def generations_per_second(self) -> float:
        return self.urls / self.run.seconds

    @property
    def requests_per_second(self) -> float:
        return len(self.run.answers) / self.run.seconds

    @property
    def failed(self) -> int:
        return sum(1 for answer in self.run.answers if answer.status != 302)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "requests": len(self.run.answers),
            "failed": self.failed,
            "seconds": self.run.seconds,
            "generations_per_second": self.generations_per_second,
            "requests_per_second": self.requests_per_second,
            "p50": self.percentile(0.5),
            "p99": self.percentile(0.99),
            "puts_per_url": self.puts,
            "servers": {name: vars(use) for name, use in self.servers.items()},
            "problems": self.problems,
        }


def check(
    title: str,
    run: loadclient.Run,
    wanted: Sequence[Thumbnail],
    store: S3Store,
    counted: Sequence[tuple[str, str, int, int]],
    servers: dict[str, ServerUse],
    *,
    earlier: Sequence[str] = (),
) -> Outcome:
    """Check ``run``: every answer a redirect, one target per URL, and each
    target PUT once (per the proxy's ``counted``) and stored at its size;
    ``earlier`` are problems found before the run (in the warm-up)."""
    problems = list(earlier)
    failures = Counter(
        f"{answer.status or answer.error} from {answer.request.server}"
        for answer in run.answers
        if answer.status != 302
    )
    problems += [f"{count} requests answered {what}" for what, count in failures.items()]
    puts: dict[str, Counter[int]] = {}
    for method, path, status, count in counted:
        if method == "PUT":
            puts.setdefault(path, Counter())[status] += count
    locations: dict[int, set[str]] = {index: set() for index in range(len(wanted))}
    for answer in run.answers:
        if answer.status == 302 and answer.location:
            locations[answer.request.url].add(answer.location)
    made = sum(use.generations for use in servers.values())
    if made != len(wanted):
        problems.append(f"the servers logged {made} generations for {len(wanted)} URLs")
    put_counts = []
    for index, thumbnail in enumerate(wanted):
        if len(locations[index]) != 1:
            problems.append(f"URL {index}: {len(locations[index])} distinct redirect targets")
        if not locations[index]:
            put_counts.append(0)
            continue
        key = urlsplit(min(locations[index])).path
        statuses = puts.get(key, Counter())
        put_counts.append(statuses.total())
        if statuses.total() != 1:
            seen = ", ".join(f"{n} x {status}" for status, n in sorted(statuses.items()))
            problems.append(f"URL {index}: {key} PUT {statuses.total()} times ({seen}), not once")
        problems += _check_object(store, key, thumbnail)
    wrong = sum(1 for count in put_counts if count != 1)
    if wrong:
        problems.insert(len(earlier), f"{wrong} of {len(wanted)} URLs were not PUT exactly once")
    return Outcome(title, run, put_counts, servers, problems)


def _check_object(store: S3Store, key_path: str, thumbnail: Thumbnail) -> list[str]:
    """The thumbnail at ``/<bucket>/<key>`` decodes to the size asked for."""
    key = key_path.removeprefix(f"/{store.bucket}/")
    try:
        data = store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
        info = probe(data)
    except Exception as error:  # any failure to read it back is the finding
        return [f"{key}: cannot be read back ({type(error).__name__}: {error})"]
    if (info.width, info.height) != (thumbnail.width, thumbnail.height):
        return [f"{key}: {info.width}x{info.height}, not {thumbnail.width}x{thumbnail.height}"]
    return []


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _puts(outcome: Outcome) -> str:
    seen = sorted(set(outcome.puts))
    if seen == [1]:
        return "1"
    return f"{seen[0]} to {seen[-1]} (!)" if seen else "none (!)"


def report(outcomes: Sequence[Outcome], heading: str) -> str:
    """The results as Markdown tables, then the ratios and the problems."""
    header = ["setup", "requests", "wall", "generations/s", "requests/s", "p50", "p99"]
    header += ["PUTs per URL", "failed"]
    rows = [
        [
            outcome.title,
            f"{len(outcome.run.answers):,}",
            f"{outcome.run.seconds:.1f} s",
            f"{outcome.generations_per_second:.2f}",
            f"{outcome.requests_per_second:.1f}",
            _ms(outcome.percentile(0.5)),
            _ms(outcome.percentile(0.99)),
            _puts(outcome),
            str(outcome.failed),
        ]
        for outcome in outcomes
    ]
    per_server = [
        [
            outcome.title,
            name,
            str(use.requests),
            str(use.generations),
            f"{use.cpu_seconds:.2f} s",
            _mib(use.start_rss),
            _mib(use.peak_rss),
        ]
        for outcome in outcomes
        for name, use in outcome.servers.items()
    ]
    lines = [heading, "", table(header, rows), ""]
    lines += [
        table(
            ["setup", "server", "requests", "generated", "CPU", "RSS at start", "RSS peak"],
            per_server,
        )
    ]
    if len(outcomes) == 2:
        lines += ["", ratios(*outcomes)]
    for outcome in outcomes:
        if outcome.problems:
            lines.append(f"\n!!! {outcome.title}: {len(outcome.problems)} PROBLEMS")
            lines += [f"!!!   {problem}" for problem in outcome.problems[:50]]
    return "\n".join(lines)


def ratios(many: Outcome, one: Outcome) -> str:
    """``many`` over ``one``, measure by measure."""

    def peak(servers: Mapping[str, ServerUse]) -> int:
        return sum(use.peak_rss for use in servers.values())

    pairs = {
        "generations/s": (many.generations_per_second, one.generations_per_second),
        "p50": (many.percentile(0.5), one.percentile(0.5)),
        "p99": (many.percentile(0.99), one.percentile(0.99)),
        "peak RSS, all servers": (peak(many.servers), peak(one.servers)),
    }
    parts = [f"{name} {mine / theirs:.2f}" for name, (mine, theirs) in pairs.items() if theirs]
    return f"{many.title} / {one.title}: " + ", ".join(parts)
