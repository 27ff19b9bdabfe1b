"""The layering rules of ARCHITECTURE.md hold in the code, and the README stays true."""

from __future__ import annotations

import ast
import pathlib

from smsc.config import reference_markdown

ROOT = pathlib.Path(__file__).resolve().parent.parent


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_protocols_and_modemfarm_never_import_the_engine_or_sql():
    """protocols/ and modemfarm/ know wire formats only: no smsc, no sqlalchemy, no psycopg2."""
    offenders = {
        path: sorted(n for n in names if n.split(".")[0] in ("smsc", "sqlalchemy", "psycopg2", "alembic"))
        for package in ("protocols", "modemfarm")
        for path, names in imported_modules(package).items()
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_router_knows_no_wire_format():
    """The router decides from message facts only: it imports no protocol code and no SQL."""
    names = imported_modules("smsc")["smsc/router.py"]
    assert not [n for n in names if n.split(".")[0] in ("protocols", "modemfarm", "sqlalchemy")]


def test_readme_config_reference_is_current():
    """The README's configuration reference is exactly what `smsc config reference` prints
    (regenerate it with `python scripts/update_readme.py`)."""
    readme = (ROOT / "README.md").read_text()
    start, end = "<!-- config-reference:start -->\n", "<!-- config-reference:end -->"
    embedded = readme.split(start, 1)[1].split(end, 1)[0]
    assert embedded.strip() == reference_markdown().strip()
