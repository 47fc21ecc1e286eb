"""What the imaging code does with each file of the hostile corpus.

Not a test (pytest does not collect it): a report, to compare the in-process
code with a hardened one.  Run from the project root::

    .venv/bin/python -m tests.imaging.characterise_hostile            # working tree
    .venv/bin/python -m tests.imaging.characterise_hostile --ref HEAD # a commit
    .venv/bin/python -m tests.imaging.characterise_hostile svg_use_bomb gif_100000_frames

Each case runs in a fresh interpreter (some kill their process, some take
minutes), under ``RLIMIT_AS`` (4 GiB) and a wall-clock timeout (30 s), at
most two at a time.  The child does::

    info = imaging.probe(data)
    imaging.make_thumbnail(data, width=100, height=<aspect kept>)

(and the 40000x100 SVG is also asked for a 40000-wide thumbnail; PDF cases
also run with the PDF coder allowed by a user policy, as a deployer accepting
PDF would).  For each run the table gives the outcome (the exception type,
the signal, or the timeout, with the stage it happened in), the wall time
of the whole child (interpreter start-up and imports included, ~0.4 s), and
the child's peak RSS (``ru_maxrss`` from ``wait4``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from .hostile import PDF_CASES, case, metadata, names

ROOT = Path(__file__).resolve().parents[2]

#: Address-space limit of each child.
MEMORY_LIMIT = 4 * 2**30
#: Default wall-clock limit of each child, in seconds.
TIMEOUT = 30.0
#: Thumbnail widths asked for besides 100, by case.
EXTRA_WIDTHS = {"svg_wide_40000x100": [40000]}

#: The code run in each child: argv is the file and the thumbnail width.
#: Progress lines start with "@@" and are JSON; the last one tells how far
#: the child got before it exited, was killed or died.
CHILD = r"""
import json, resource, sys, time
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
start = time.monotonic()


def report(**fields):
    fields["t"] = round(time.monotonic() - start, 3)
    print("@@" + json.dumps(fields), flush=True)


def failed(stage, error):
    report(stage=stage, error=type(error).__name__, message=str(error)[:500])
    sys.exit(0)


with open(sys.argv[1], "rb") as file:
    data = file.read()
width = int(sys.argv[2])
report(stage="import")
from imageattach import imaging
from imageattach.sizing import thumbnail_size

report(stage="probe")
try:
    info = imaging.probe(data)
except Exception as error:
    failed("probe", error)
report(stage="probed", info=[info.mimetype, info.width, info.height, info.frames])
try:
    size = thumbnail_size(info.width, info.height, width=width)
except Exception as error:
    failed("size", error)
report(stage="thumbnail", size=list(size))
try:
    thumbnail, mimetype = imaging.make_thumbnail(data, width=size[0], height=size[1])
except Exception as error:
    failed("thumbnail", error)
report(stage="done", size=list(size), mimetype=mimetype, bytes=len(thumbnail))
"""


@dataclasses.dataclass(frozen=True)
class Run:
    name: str
    width: int = 100
    pdf_allowed: bool = False

    @property
    def label(self) -> str:
        label = self.name
        if self.width != 100:
            label += f" (width {self.width})"
        if self.pdf_allowed:
            label += " (PDF allowed)"
        return label


@dataclasses.dataclass
class Result:
    run: Run
    kind: str
    outcome: str
    seconds: float
    peak_mb: float
    exit_status: str
    events: list[dict[str, Any]]
    stderr_tail: str


def runs_for(selected: list[str]) -> list[Run]:
    runs = []
    for name in selected:
        runs.append(Run(name))
        runs += [Run(name, width) for width in EXTRA_WIDTHS.get(name, [])]
        if name in PDF_CASES:
            runs.append(Run(name, pdf_allowed=True))
    return runs


def export(ref: str, directory: Path) -> str:
    """Extract ``imageattach/`` as of git ``ref`` into ``directory``; its commit."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "imageattach"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    return commit


def environment(source: Path, home: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MAGICK_CONFIGURE_PATH", "PYTHONPATH")}
    env["PYTHONPATH"] = str(source)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if home is not None:
        env["HOME"] = str(home)
        env["XDG_CONFIG_HOME"] = str(home / ".config")
    return env


def pdf_home(directory: Path) -> Path:
    """A HOME whose user ImageMagick policy re-allows the PDF coder."""
    config = directory / "pdf-home" / ".config" / "ImageMagick"
    config.mkdir(parents=True)
    (config / "policy.xml").write_text(
        '<policymap><policy domain="coder" rights="read" pattern="PDF" /></policymap>\n'
    )
    return directory / "pdf-home"


def execute(
    run: Run, *, python: str, source: Path, work: Path, timeout: float, home: Path
) -> Result:
    path = work / f"{run.name}.bin"
    stdout_path = work / f"{run.label}.out".replace(" ", "_")
    stderr_path = work / f"{run.label}.err".replace(" ", "_")
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        start = time.monotonic()
        process = subprocess.Popen(
            [python, "-c", CHILD, str(path), str(run.width), str(MEMORY_LIMIT)],
            cwd=source,
            env=environment(source, home if run.pdf_allowed else None),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # its own process group: Ghostscript dies with it
        )
        timed_out = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if not timed_out and time.monotonic() - start > timeout:
                timed_out = True
                os.killpg(process.pid, signal.SIGKILL)  # not yet reaped: still ours
            time.sleep(0.02)
        seconds = time.monotonic() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    events = [
        json.loads(line[2:])
        for line in stdout_path.read_text(errors="replace").splitlines()
        if line.startswith("@@")
    ]
    stderr_tail = stderr_path.read_text(errors="replace")[-2000:]
    return Result(
        run=run,
        kind=metadata(run.name)[1],
        outcome=describe(process.returncode, timed_out, timeout, events, stderr_tail),
        seconds=seconds,
        peak_mb=usage.ru_maxrss / 1024,
        exit_status=exit_status(process.returncode),
        events=events,
        stderr_tail=stderr_tail,
    )


def empty_child_rss(python: str) -> float:
    """Peak RSS (MB) that ``wait4`` reports for an interpreter doing nothing:
    the floor of the table's column (it includes this process's RSS when
    spawning, which is why the corpus is written by another process)."""
    process = subprocess.Popen([python, "-c", "pass"])
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    return usage.ru_maxrss / 1024


def exit_status(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"


def describe(
    code: int, timed_out: bool, timeout: float, events: list[dict[str, Any]], stderr: str
) -> str:
    last = events[-1] if events else {"stage": "start-up"}
    stage = {"import": "import", "probed": "thumbnail-size"}.get(last["stage"], last["stage"])
    if timed_out:
        return f"timeout ({timeout:g} s) in {stage}"
    if code < 0:
        return f"{exit_status(code)} in {stage}"
    if code != 0:
        return f"exit {code} in {stage}"  # e.g. ImageMagick's fatal errors call exit(1)
    if "error" in last:
        return f"{last['error']} in {stage}"
    if last["stage"] == "done":
        probed = next(e for e in events if e["stage"] == "probed")
        mimetype, width, height, frames = probed["info"]
        frames_text = f", {frames} frames" if frames != 1 else ""
        thumb_w, thumb_h = last["size"]
        return f"ok: {width}x{height} {mimetype}{frames_text} -> {thumb_w}x{thumb_h}"
    return f"exit 0 in {stage}"  # pragma: no cover


def table(results: list[Result]) -> str:
    rows = [
        "| case | kind | outcome | s | peak MB |",
        "|---|---|---|---:|---:|",
    ]
    for result in results:
        rows.append(
            f"| {result.run.label} | {result.kind} | {result.outcome} "
            f"| {result.seconds:.1f} | {result.peak_mb:.0f} |"
        )
    return "\n".join(rows)


def details(results: list[Result]) -> str:
    lines = []
    for result in results:
        last = result.events[-1] if result.events else {}
        message = last.get("message")
        if message:
            lines.append(f"- {result.run.label}: {last['error']}: {message.strip()[:200]}")
        elif result.exit_status != "exit 0" or not result.outcome.startswith("ok"):
            tail = [line for line in result.stderr_tail.splitlines() if line.strip()][-2:]
            if tail:
                lines.append(f"- {result.run.label}: stderr: {' | '.join(tail)[:200]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--ref", help="run the imageattach package of this git commit")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per child")
    parser.add_argument("--jobs", type=int, default=2, help="children at a time (default 2)")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the children")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--write-corpus", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_corpus:
        for name in args.cases:
            (args.write_corpus / f"{name}.bin").write_bytes(case(name).data)
        return 0
    unknown = set(args.cases) - set(names())
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    selected = args.cases or names()
    runs = runs_for(selected)

    with tempfile.TemporaryDirectory(prefix="hostile-") as temporary:
        work = Path(temporary)
        if args.ref:
            source = work / "source"
            source.mkdir()
            described = f"git {args.ref} ({export(args.ref, source)[:12]})"
        else:
            source = ROOT
            described = f"working tree {ROOT}"
        # Written by a child: this process must stay small, since a child's
        # ru_maxrss starts at the RSS of the process it was spawned from.
        subprocess.run(
            [args.python, "-m", __spec__.name, "--write-corpus", str(work), *selected],
            check=True,
        )
        home = pdf_home(work)
        floor = empty_child_rss(args.python)
        print(
            f"imageattach from {described}; {len(runs)} runs, {args.jobs} at a time, "
            f"timeout {args.timeout:g} s, RLIMIT_AS {MEMORY_LIMIT / 2**30:g} GiB; "
            f"peak RSS of an empty interpreter {floor:.0f} MB",
            file=sys.stderr,
            flush=True,
        )
        results: dict[Run, Result] = {}
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {
                pool.submit(
                    execute,
                    run,
                    python=args.python,
                    source=source,
                    work=work,
                    timeout=args.timeout,
                    home=home,
                ): run
                for run in runs
            }
            for future in concurrent.futures.as_completed(futures):
                result = future.result()
                results[result.run] = result
                print(
                    f"  {result.run.label}: {result.outcome} "
                    f"({result.seconds:.1f} s, {result.peak_mb:.0f} MB)",
                    file=sys.stderr,
                    flush=True,
                )
        ordered = [results[run] for run in runs]
    print(f"# Hostile corpus against imageattach from {described}\n")
    print(
        f"Timeout {args.timeout:g} s, RLIMIT_AS {MEMORY_LIMIT / 2**30:g} GiB, {args.jobs} children"
        f" at a time; an empty interpreter peaks at {floor:.0f} MB.\n"
    )
    print(table(ordered))
    print("\nMessages:\n")
    print(details(ordered))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "case": r.run.name,
                        "width": r.run.width,
                        "pdf_allowed": r.run.pdf_allowed,
                        "kind": r.kind,
                        "outcome": r.outcome,
                        "exit_status": r.exit_status,
                        "seconds": round(r.seconds, 2),
                        "peak_mb": round(r.peak_mb),
                        "events": r.events,
                    }
                    for r in ordered
                ],
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
