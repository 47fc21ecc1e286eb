"""Each example app and each recipe of docs/adapters.md needs only its
framework's extra: every module it imports (or ``config.include``s) comes
from the core dependencies, that extra, or what they depend on.

A fresh ``pip install -e '.[flask]'`` (``[pyramid]``, ``[fastapi]``) then
starts the app; this test keeps it so without installing anything.
"""

from __future__ import annotations

import ast
import contextlib
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires

import pytest
from packaging.requirements import Requirement
from test_docs import ROOT, blocks

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
#: What a recipe's test snippet may use beyond the extra (it says so).
TEST_ONLY = {"httpx"}


def _name(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _closure(requirements: list[str]) -> set[str]:
    """The distributions ``requirements`` install, with their dependencies."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = _name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        with contextlib.suppress(PackageNotFoundError):
            todo += [Requirement(r) for r in requires(requirement.name) or []]
    return seen


def allowed(extra: str) -> set[str]:
    return _closure(PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"][extra])


def imported(code: str) -> set[str]:
    """Top-level modules ``code`` imports or includes into a Pyramid config."""
    tree = ast.parse(code)
    modules = set(re.findall(r"""config\.include\(["']([\w.]+)["']\)""", code))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []  # imports for the type checker only
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return (
        {m.split(".")[0] for m in modules}
        - set(sys.stdlib_module_names)
        - {
            "imageattach",
            "examples",
            "__future__",
        }
    )


def distributions(modules: set[str]) -> dict[str, set[str]]:
    table = packages_distributions()
    return {module: {_name(d) for d in table.get(module, [module])} for module in modules}


def missing(code: str, extra: str) -> dict[str, set[str]]:
    """The modules of ``code`` that ``extra`` does not bring."""
    ok = allowed(extra)
    return {m: d for m, d in distributions(imported(code)).items() if not d & ok}


@pytest.mark.parametrize(("app", "extra"), [("flask_app", "flask"), ("pyramid_app", "pyramid")])
def test_example_app_needs_only_its_extra(app: str, extra: str) -> None:
    sources = [
        *(ROOT / "examples" / app).glob("*.py"),
        *(ROOT / "examples" / "common").glob("*.py"),
    ]
    code = "\n".join(path.read_text() for path in sources)
    assert imported(code), "no imports found"
    assert missing(code, extra) == {}


SECTIONS = {"Flask": "flask", "Pyramid": "pyramid", "Bottle": "bottle", "Starlette": "starlette",
            "FastAPI": "fastapi"}  # fmt: skip


def recipe_code(section: str) -> str:
    """The Python blocks of adapters.md under ``## section``."""
    page = ROOT / "docs" / "adapters.md"
    lines = page.read_text().splitlines()
    start = lines.index(f"## {section}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(b.code for b in blocks(page) if b.lang == "python" and start < b.line <= end)


@pytest.mark.parametrize(("section", "extra"), SECTIONS.items())
def test_adapter_recipe_needs_only_its_extra(section: str, extra: str) -> None:
    code = recipe_code(section)
    assert imported(code)
    assert {m: d for m, d in missing(code, extra).items() if m not in TEST_ONLY} == {}


def test_the_check_can_fail() -> None:
    assert missing("import boto3\nconfig.include('pyramid_tm')\n", "flask") == {
        "boto3": {"boto3"},
        "pyramid_tm": {"pyramid-tm"},
    }
    assert "python-multipart" in allowed("fastapi") and "uvicorn" in allowed("fastapi")
