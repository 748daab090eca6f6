"""docs/DESIGN.md says nothing the code does not do: every module of the package is in its layout
table, and every name its "Python interfaces" block lists exists in the module it is listed under."""
import importlib
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
DESIGN = (ROOT / "docs" / "DESIGN.md").read_text()


def _interfaces() -> list[tuple[str, str]]:
    """(module, name) for each name a line of the interfaces block starts with (``a(...); b(...)``
    lists two)."""
    block = DESIGN.split("## Python interfaces", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    module, out = None, []
    for line in block.splitlines():
        if line.startswith("# "):
            path = line[2:].split()[0]
            module = "pmcsuite." + path.removesuffix(".py").replace("/", ".")
            continue
        if not line or line[0] in " #":
            continue
        code = line.split("  #", 1)[0]
        for piece in code.split("; "):
            match = re.match(r"([A-Za-z_]\w*)", piece.strip())
            if match:
                out.append((module, match.group(1)))
    return out


INTERFACES = _interfaces()


def test_the_interfaces_block_was_read():
    modules = {m for m, _ in INTERFACES}
    assert len(INTERFACES) > 60 and {"pmcsuite.api", "pmcsuite.collect.sweep", "pmcsuite.schema"} <= modules


@pytest.mark.parametrize("module, name", INTERFACES, ids=[f"{m}.{n}" for m, n in INTERFACES])
def test_every_listed_name_exists_where_it_is_listed(module, name):
    assert hasattr(importlib.import_module(module), name), f"docs/DESIGN.md lists {name} under {module}"


def test_every_module_is_in_the_layout_table():
    table = DESIGN.split("| module | owns |", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"`([\w/]+(?:\.py|/))`", table))
    package = ROOT / "pmcsuite"
    missing = []
    for path in package.rglob("*.py"):
        rel = path.relative_to(package)
        if rel.name == "__init__.py" or rel.as_posix() == "__main__.py":    # a package is its folder's row
            continue
        parents = ["/".join(rel.parts[:i]) + "/" for i in range(1, len(rel.parts))]
        candidates = {rel.as_posix(), *parents}
        if not candidates & named:
            missing.append(rel.as_posix())
    assert missing == []
