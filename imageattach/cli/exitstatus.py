"""The exit statuses of the ``imageattach`` command, stable for scripts
(see ``imageattach --help`` and docs/cli.md)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ERROR = 3
EXIT_INTERRUPTED = 130

EXIT_STATUS_HELP = """\
exit status:
  0    every image is in the destination (or would be, with --dry-run)
  1    some images failed (listed on stderr); run again to retry them
  2    bad command line or configuration (including a missing database
       file or driver)
  3    could not start or stopped early: a store failed the check before
       copying, a database error, or --max-failures images failed
  130  interrupted (Ctrl-C, SIGTERM); run again to resume
"""


def outcome(ended: str, failed: int) -> tuple[str, int]:
    """The summary's first words and the exit status of a run (``migrate``,
    ``pregenerate``) that ended as ``ended`` says (``'finished'``,
    ``'interrupted'`` or ``'max-failures'``) with ``failed`` failures."""
    if ended == "interrupted":
        return "interrupted", EXIT_INTERRUPTED
    if ended == "max-failures":
        return f"stopped after {failed} failures", EXIT_ERROR
    if failed:
        return "finished with failures", EXIT_FAILED
    return "finished", EXIT_OK
