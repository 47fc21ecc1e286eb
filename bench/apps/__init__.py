"""Tiny apps that serve the benchmark's files, one module per contender.

Each module has factories taking ``(root, prefix)`` for in-process use, and
argument-less ``wsgi()`` / ``asgi()`` factories for server command lines
(``gunicorn 'bench.apps.ours:wsgi()'``, ``granian --factory``,
``uvicorn --factory``) that read the same settings from the environment.
The wrapped app is always a trivial 404 app, so a request that the static
layer does not answer is visible as a 404 in the verification step.
"""
