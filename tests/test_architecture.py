"""The import rules of the architecture, checked on the source (every import, at any depth of
the code, counts):

* the trusted checker `certify.verify` imports no bound method: only the neutral types
  (problem, domains, evidence, certificates), the networks, and its own arithmetic;
* bound methods never import each other (a registered method's module imports no other), and
  never call the checker;
* workflows (audit, compare, law) use the public API, never the command line of `certify.cli`;
* `models` knows nothing of `certify`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from certify.methods import _REGISTRY, method_names

ROOT = Path(__file__).parents[1]
#: What `certify.verify` may import from the project besides itself.
TRUSTED_NEIGHBOURS = (
    "certify.problem",
    "certify.domains",
    "certify.evidence",
    "certify.certificates",
    "certify.threads",
    "models",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The project modules ``path`` imports, relative imports resolved."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in ("certify", "models")}


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package.replace(".", "/")).rglob("*.py"))


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _module_of(name: str, modules: set[str]) -> str:
    """The module among ``modules`` that ``name`` (a module or one of its attributes) is in."""
    return max((m for m in modules if _within(name, (m,))), key=len, default=name)


def test_the_checker_imports_no_bound_method() -> None:
    allowed = ("certify.verify", *TRUSTED_NEIGHBOURS)
    upper = {_module_name(p) for p in _sources("certify.upper")}
    offending = {
        (_module_name(path), _module_of(name, upper))
        for path in _sources("certify.verify")
        for name in _imports(path)
        if not _within(name, allowed)
    }
    assert not offending, sorted(offending)


def _method_modules() -> set[str]:
    method_names()
    return {cls.__module__ for cls in _REGISTRY.values()}


@pytest.mark.parametrize("side", ["certify.upper", "certify.lower"])
def test_bound_methods_never_call_the_checker(side: str) -> None:
    # The data flow is one way, method → certificate → check: no method verifies its own claim.
    offending = {
        f"{_module_name(path)} imports {name}"
        for path in _sources(side)
        for name in _imports(path)
        if _within(name, ("certify.verify.dispatch", "certify.verify.checks", "certify.api"))
        or name == "certify.verify.verify"
    }
    assert not offending, sorted(offending)


def test_bound_methods_never_import_each_other() -> None:
    methods = _method_modules()
    assert len(methods) >= 10
    offending = {
        (module, _module_of(name, methods))
        for module in methods
        for name in _imports(ROOT / (module.replace(".", "/") + ".py"))
        if any(_within(name, (other,)) for other in methods - {module})
    }
    assert not offending, sorted(offending)


@pytest.mark.parametrize("workflow", ["certify.audit", "certify.compare", "certify.law"])
def test_workflows_do_not_import_the_command_line(workflow: str) -> None:
    offending = {
        f"{_module_name(path)} imports {name}"
        for path in _sources(workflow)
        for name in _imports(path)
        if _within(name, ("certify.cli",))
    }
    assert not offending, sorted(offending)


def test_models_know_nothing_of_certify() -> None:
    offending = {
        f"{_module_name(path)} imports {name}"
        for path in _sources("models")
        for name in _imports(path)
        if _within(name, ("certify",))
    }
    assert not offending, sorted(offending)


def test_the_readme_shows_the_method_scope_table_of_the_registry() -> None:
    from certify.methods import scope_table

    assert scope_table() in (ROOT / "README.md").read_text()
