"""Benchmarks that run imageattach side by side with its peers and print ratios.

Run ``python -m bench`` (every benchmark) or ``python -m bench static --help``.
They are not part of the test suite: they take minutes and their numbers
depend on the machine.  See docs/benchmarks.md.
"""
