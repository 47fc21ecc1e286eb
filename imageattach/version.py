"""The version of imageattach, and the SQLAlchemy versions it works with."""

__all__ = [
    "SQLA_COMPAT_VERSION",
    "SQLA_COMPAT_VERSION_INFO",
    "SQLA_MAX_VERSION_INFO",
    "VERSION",
    "VERSION_INFO",
]

#: The version string, PEP 440.
VERSION = "2.0.0.dev0"

#: The version as a tuple of integers (the seed exposed the same pair).
VERSION_INFO = (2, 0, 0)

__version__ = VERSION

#: The oldest SQLAlchemy release supported, as a triple (the seed's meaning:
#: the minimum compatible version).  Matches ``SQLAlchemy>=2.0.4`` in the
#: package's requirements (``hybrid_property.inplace`` appeared in 2.0.4).
SQLA_COMPAT_VERSION_INFO = (2, 0, 4)

#: :data:`SQLA_COMPAT_VERSION_INFO` as a string, e.g. ``'2.0.4'``.
SQLA_COMPAT_VERSION = "{}.{}.{}".format(*SQLA_COMPAT_VERSION_INFO)

#: The first SQLAlchemy release *not* supported (exclusive upper bound,
#: ``SQLAlchemy<2.2`` in the requirements): 2.0 and 2.1 are.
SQLA_MAX_VERSION_INFO = (2, 2)


if __name__ == "__main__":  # python -m imageattach.version, as the seed's did
    print(VERSION)
