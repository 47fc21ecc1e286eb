"""OpenTelemetry spans around on-demand generation (tracer ``"imageattach"``).

As OpenTelemetry asks of libraries, imageattach only uses the API
(``opentelemetry-api``, the ``tracing`` extra): when it is installed, spans
go to the global tracer provider, a no-op until the application installs
the SDK; without it, there are no spans and nothing is imported.
:func:`enable` picks another provider, :func:`disable` turns spans off.
The spans are listed in docs/metrics.md.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .exceptions import ConfigurationError
from .version import VERSION

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer, TracerProvider

__all__ = ["TRACER_NAME", "current_tracer", "disable", "enable"]

#: The instrumentation scope name of imageattach's spans.
TRACER_NAME = "imageattach"

_lock = threading.Lock()
_chosen = False
_tracer: Tracer | None = None


def enable(*, tracer_provider: TracerProvider | None = None) -> None:
    """Send spans to ``tracer_provider`` (default: the global one, which is
    what happens without a call when ``opentelemetry-api`` is installed).

    :raises ConfigurationError: ``opentelemetry-api`` is not installed, or
        ``tracer_provider`` is not a ``TracerProvider``.
    """
    global _chosen, _tracer
    try:
        from opentelemetry import trace
    except ImportError as error:
        raise ConfigurationError(
            "tracing needs opentelemetry-api: pip install 'imageattach[tracing]'"
        ) from error
    if tracer_provider is not None and not isinstance(tracer_provider, trace.TracerProvider):
        raise ConfigurationError(
            f"tracer_provider must be an OpenTelemetry TracerProvider, not {tracer_provider!r}"
        )
    tracer = trace.get_tracer(TRACER_NAME, VERSION, tracer_provider=tracer_provider)
    with _lock:
        _tracer, _chosen = tracer, True


def disable() -> None:
    """Make no spans (until :func:`enable`)."""
    global _chosen, _tracer
    with _lock:
        _tracer, _chosen = None, True


def current_tracer() -> Tracer | None:
    """The tracer spans are made with; ``None``: no spans."""
    if not _chosen:
        try:
            enable()
        except ConfigurationError:
            disable()
    return _tracer
