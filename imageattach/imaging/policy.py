"""The ImageMagick security policy and resource limits imageattach runs under.

:mod:`imageattach.imaging._environment` points ``MAGICK_CONFIGURE_PATH`` at
this package's directory, which holds ``policy.xml``, before Wand starts
ImageMagick.  :func:`check` then asks ImageMagick whether the rules are in
force; when Wand was started earlier by someone else, they may not be, and
:func:`require` refuses to process images (see ``docs/imaging.md``).

The policy is process-wide: it also refuses the app's own Wand drawing
(``xc:``, ``gradient:``, ``label:``).  :func:`allow_coders` re-allows such
generators, in this process only (the decoding workers keep the policy).
"""

from __future__ import annotations

import ctypes
import warnings

from wand.api import library
from wand.resource import limits

from ..exceptions import ConfigurationError, ImagingPolicyError
from ..validation import check_int
from ._environment import POLICY_DIR, WAND_STARTED_BEFORE_US

__all__ = [
    "ALLOWABLE_CODERS",
    "DEFAULT_RESOURCE_LIMITS",
    "POLICY_DIR",
    "allow_coders",
    "allowed_coders",
    "check",
    "is_coder_readable",
    "require",
    "set_resource_limits",
]

#: Coders that must never read untrusted bytes, and paths that must not resolve.
_FORBIDDEN_CODERS = ("MVG", "MSL", "TEXT", "TXT", "URL", "HTTP", "HTTPS", "FTP", "EPHEMERAL", "PS")
_FORBIDDEN_PATHS = ("@/etc/passwd",)

# MagickCore enums, identical in ImageMagick 6 and 7 (magick/policy.h).
_CODER_DOMAIN = 1
_PATH_DOMAIN = 4
_READ_RIGHTS = 1

library.IsRightsAuthorized.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p]
library.IsRightsAuthorized.restype = ctypes.c_int

#: The coders :func:`allow_coders` accepts: generators that make an image
#: from their arguments alone (a colour, a gradient, text in a font), reading
#: no file, URL or other image and running no program.  ``label:``/``caption:``
#: text starting with ``@`` would read a file: the policy's ``@*`` path rule,
#: which stays, refuses that.
ALLOWABLE_CODERS = frozenset(
    {
        "XC", "CANVAS", "GRADIENT", "RADIAL-GRADIENT", "PATTERN", "PLASMA", "FRACTAL",
        "LABEL", "CAPTION", "NULL", "HALD",
    }
)  # fmt: skip

#: Why some coders people ask for are never allowed.
_REFUSED_CODERS = {
    **dict.fromkeys(("URL", "HTTP", "HTTPS", "FTP"), "it fetches from the network"),
    **dict.fromkeys(
        ("TEXT", "TXT", "EPHEMERAL", "FD", "INLINE", "MIFF", "MPR", "MPRI"),
        "it reads a file, a descriptor or embedded image data of any format",
    ),
    **dict.fromkeys(
        ("MVG", "MSL", "SVG", "MSVG"),
        "it runs a drawing or scripting language that reads files (ImageTragick)",
    ),
    **dict.fromkeys(
        ("PS", "EPS", "PDF", "AI", "XPS", "PCL", "SHOW", "WIN", "X", "PRINT"),
        "it runs an external program",
    ),
}

library.SetMagickSecurityPolicy.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
library.SetMagickSecurityPolicy.restype = ctypes.c_int
library.AcquireExceptionInfo.argtypes = []
library.AcquireExceptionInfo.restype = ctypes.c_void_p
library.DestroyExceptionInfo.argtypes = [ctypes.c_void_p]
library.DestroyExceptionInfo.restype = ctypes.c_void_p

_allowed: set[str] = set()


def is_coder_readable(coder: str) -> bool:
    """Whether the policy in force lets ImageMagick read with ``coder``."""
    return bool(library.IsRightsAuthorized(_CODER_DOMAIN, _READ_RIGHTS, coder.upper().encode()))


def check() -> list[str]:
    """How the policy in force differs from imageattach's: what it allows that
    imageattach refuses, or basic formats it refuses (empty when in force)."""
    problems = [f"coder {c}" for c in _FORBIDDEN_CODERS if is_coder_readable(c)]
    # ImageMagick before 6.9.7-7 let the first refusal win, which turns an
    # allow-list into "refuse everything": say so rather than accept nothing.
    problems += [f"(it refuses {c})" for c in ("JPEG", "PNG") if not is_coder_readable(c)]
    problems += [
        f"path {p}"
        for p in _FORBIDDEN_PATHS
        if library.IsRightsAuthorized(_PATH_DOMAIN, _READ_RIGHTS, p.encode())
    ]
    return problems


_PROBLEMS = check()


def require() -> None:
    """Raise :exc:`~imageattach.exceptions.ImagingPolicyError` unless the
    policy is in force; called before any untrusted bytes reach ImageMagick."""
    if _PROBLEMS:
        raise ImagingPolicyError(_explain(_PROBLEMS))


def _explain(problems: list[str]) -> str:
    cause = (
        "Wand was imported before imageattach.imaging"
        if WAND_STARTED_BEFORE_US
        else "another ImageMagick policy file re-allows them"
    )
    return (
        f"ImageMagick's security policy in this process is not imageattach's: it allows "
        f"{', '.join(problems)} ({cause}). imageattach decodes images in worker processes, "
        "which have its policy, but any other ImageMagick use here does not: import "
        f"imageattach.imaging before wand, or set MAGICK_CONFIGURE_PATH={POLICY_DIR} in the "
        "environment."
    )


if _PROBLEMS:
    warnings.warn(_explain(_PROBLEMS), RuntimeWarning, stacklevel=2)


def allow_coders(*coders: str) -> None:
    """Let this process's own Wand code read with ``coders``, e.g.
    ``allow_coders("xc", "gradient", "label")`` for a watermark.

    Only the generators in :data:`ALLOWABLE_CODERS` are accepted; anything
    else (``url``, ``msl``, ``text``, ``ephemeral``, ``@`` paths...) raises
    :exc:`~imageattach.exceptions.ConfigurationError` and nothing changes.
    The rule is added to this process's policy only: uploads are decoded in
    worker processes, which start with imageattach's policy unchanged.
    """
    names: list[str] = []
    for coder in coders:
        if not isinstance(coder, str):
            raise ConfigurationError(f"a coder name must be a str, not {coder!r}")
        name = coder.strip().removesuffix(":").upper()
        if name not in ALLOWABLE_CODERS:
            reason = _REFUSED_CODERS.get(name, "it is not an image generator known to be safe")
            raise ConfigurationError(
                f"cannot allow ImageMagick coder {coder!r}: {reason}; "
                f"allow_coders() accepts {', '.join(sorted(ALLOWABLE_CODERS))}"
            )
        names.append(name)
    wanted = [name for name in dict.fromkeys(names) if not is_coder_readable(name)]
    if wanted:
        rule = f'<policy domain="coder" rights="read" pattern="{{{",".join(wanted)}}}" />'
        exception = library.AcquireExceptionInfo()
        try:
            library.SetMagickSecurityPolicy(f"<policymap>{rule}</policymap>".encode(), exception)
        finally:
            library.DestroyExceptionInfo(exception)
        refused = [name for name in wanted if not is_coder_readable(name)]
        if refused:
            raise ImagingPolicyError(
                f"ImageMagick did not take the rule allowing {', '.join(refused)}: add {rule} "
                "to a policy.xml in a MAGICK_CONFIGURE_PATH directory after "
                f"{POLICY_DIR} (a later rule wins)"
            )
        if check():  # never: no allowable coder is a forbidden one
            raise ImagingPolicyError(_explain(check()))
    _allowed.update(names)


def allowed_coders() -> frozenset[str]:
    """The coders :func:`allow_coders` has allowed in this process."""
    return frozenset(_allowed)


#: Resource limits set on import: one ImageMagick thread (parallelism is per
#: request, outside ImageMagick), bounded pixel-cache memory, memory map and
#: disk.  They are process-wide totals shared by concurrent thumbnails; a
#: system policy.xml may cap them lower.
DEFAULT_RESOURCE_LIMITS: dict[str, int] = {
    "thread": 1,
    "memory": 256 * 1024**2,
    "map": 512 * 1024**2,
    "disk": 1024**3,
}


def set_resource_limits(**values: int) -> None:
    """Set ImageMagick resource limits, e.g. ``set_resource_limits(memory=2**30)``.

    Names are ImageMagick's (``thread``, ``memory``, ``map``, ``disk``,
    ``area``, ``width``, ``height``, ``file``); values are bytes or counts.
    """
    for name, value in values.items():
        if name not in {"thread", "memory", "map", "disk", "area", "width", "height", "file"}:
            raise ConfigurationError(f"unknown ImageMagick resource {name!r}")
        limits[name] = check_int(f"resource limit {name}", value)


set_resource_limits(**DEFAULT_RESOURCE_LIMITS)
