"""The version of imageattach."""

#: The version string, PEP 440.
VERSION = "2.0.0.dev0"

#: The version as a tuple of integers (the seed exposed the same pair).
VERSION_INFO = (2, 0, 0)

__version__ = VERSION


if __name__ == "__main__":  # python -m imageattach.version, as the seed's did
    print(VERSION)
