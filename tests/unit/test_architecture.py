"""The architecture's rules, read from the source: who may import whom, and how big a module gets.

Imports are read with `ast` (also those inside functions and `TYPE_CHECKING` blocks), so a lazy
import cannot slip past a rule.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import cartback

SRC = Path(cartback.__file__).resolve().parent
MAX_LINES = 400

# Libraries that reach outside the process: the domain is pure rules and uses none of them.
IO_LIBRARIES = (
    "aiosmtpd",
    "alembic",
    "asyncio",
    "fastapi",
    "http.client",
    "httpx",
    "psycopg",
    "psycopg2",
    "requests",
    "smtplib",
    "socket",
    "sqlalchemy",
    "starlette",
    "subprocess",
    "urllib.request",
    "uvicorn",
)

# package -> the cartback packages (or modules) it must not import.
FORBIDDEN = {
    "store": ("engine", "api", "channels", "integrations", "cli"),
    "channels": ("store", "engine", "api", "integrations"),
    "integrations": ("engine", "api", "cli", "runtime"),
    "engine": ("api", "cli"),
}

# Imports that break a rule in files being rewritten on the store-seam branch; its merge removes
# them. Then delete the entry (test_the_expected_violations_are_still_there starts failing).
EXPECTED_VIOLATIONS: dict[tuple[str, str], str] = {}  # (module, import): why it is there for now


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module, e.g. "cartback.store.inbound"
    imported: str  # e.g. "cartback.channels.base"
    line: int

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.imported}"


def _module_name(path: Path) -> str:
    parts = ("cartback", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(path: Path) -> list[Import]:
    source = path.read_text(encoding="utf-8")
    return _imports_in(source, _module_name(path), is_package=path.name == "__init__.py")


def _imports_in(source: str, module: str, *, is_package: bool = False) -> list[Import]:
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append(Import(module, base, node.lineno))
            # `from cartback import api` imports the package cartback.api
            if base == "cartback":
                found += [Import(module, f"cartback.{a.name}", node.lineno) for a in node.names]
    return found


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


ALL_IMPORTS = [found for path in _sources() for found in _imports_of(path)]


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _violations(package: str, forbidden: tuple[str, ...]) -> list[Import]:
    return [
        found
        for found in ALL_IMPORTS
        if _within(found.module, f"cartback.{package}")
        and any(_within(found.imported, f"cartback.{name}") for name in forbidden)
    ]


def test_the_reader_sees_every_module_and_resolves_relative_imports() -> None:
    modules = {_module_name(path) for path in _sources()}
    assert {"cartback.domain.phone", "cartback.store.base", "cartback.api"} <= modules
    assert any(found.imported == "cartback.domain.events" for found in ALL_IMPORTS)


def test_domain_imports_no_other_cartback_package_and_no_io_library() -> None:
    broken = [
        found
        for found in ALL_IMPORTS
        if _within(found.module, "cartback.domain")
        and (
            (_within(found.imported, "cartback") and not _within(found.imported, "cartback.domain"))
            or any(_within(found.imported, library) for library in IO_LIBRARIES)
        )
    ]
    assert not broken, "\n".join(map(str, broken))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_its_layer_may(package: str) -> None:
    broken = [
        found
        for found in _violations(package, FORBIDDEN[package])
        if (found.module, found.imported) not in EXPECTED_VIOLATIONS
    ]
    forbidden = ", ".join(FORBIDDEN[package])
    assert not broken, f"{package}/ must not import {forbidden}:\n" + "\n".join(map(str, broken))


def test_the_expected_violations_are_gone() -> None:
    """An expected violation that is gone must leave the list too."""
    remaining = [
        found
        for package, forbidden in FORBIDDEN.items()
        for found in _violations(package, forbidden)
        if (found.module, found.imported) in EXPECTED_VIOLATIONS
    ]
    assert not remaining, "\n".join(
        f"{found}: {EXPECTED_VIOLATIONS[found.module, found.imported]}" for found in remaining
    )


def test_no_module_is_over_400_lines_outside_the_migrations() -> None:
    migrations = SRC / "store" / "migrations"
    sizes = {
        path.relative_to(SRC).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in _sources()
        if migrations not in path.parents
    }
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"split these by concept: {too_long}"


def test_the_reader_sees_relative_lazy_and_package_imports() -> None:
    source = (
        "from ..store import tables\n"
        "from . import base\n"
        "def later() -> None:\n"
        "    import cartback.engine.worker\n"
        "from cartback import api\n"
    )
    imported = {found.imported for found in _imports_in(source, "cartback.channels.probe")}
    assert imported >= {"cartback.store", "cartback.channels", "cartback.engine.worker"}
    assert "cartback.api" in imported
