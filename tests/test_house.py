"""The package's shape, measured from its own source (docs/DESIGN.md, "Layout"): the stages import
only from earlier stages, no import circle, no module over 600 lines, no function over 80.

The imports are read with ``ast`` (every import, also those inside functions), so a lazy import
that goes backward is caught like any other."""
import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parent.parent / "pmcsuite"

#: the stages in the order data flows through them; a module may import from its own stage and
#: from the stages before it, never from a later one (docs/DESIGN.md)
STAGES = [
    ("base", ["pmcsuite.version", "pmcsuite.errors", "pmcsuite.schema", "pmcsuite.sizes", "pmcsuite.options",
              "pmcsuite.userfiles"]),
    ("catalogue", ["pmcsuite.catalogue"]),
    ("plan", ["pmcsuite.plan"]),
    ("collect", ["pmcsuite.collect"]),
    ("results", ["pmcsuite.results"]),
    ("analysis", ["pmcsuite.analysis"]),
    ("report", ["pmcsuite.report"]),
    ("api", ["pmcsuite.api"]),
    ("cli", ["pmcsuite.cli", "pmcsuite.__main__", "pmcsuite"]),
]
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The package modules ``name`` imports (``from X import Y`` counts Y when Y is a module)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                if f"{module}.{alias.name}" in MODULES:
                    found.add(f"{module}.{alias.name}")
                elif module in MODULES:
                    found.add(module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _stage(name: str) -> int:
    best = None
    for index, (_, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    assert best is not None, f"{name} belongs to no stage: add it to STAGES and docs/DESIGN.md"
    return best[0]


def test_every_module_belongs_to_a_stage():
    for name in MODULES:
        _stage(name)


def test_no_import_goes_to_a_later_stage():
    backward = sorted(f"{name} -> {dep} ({STAGES[_stage(name)][0]} imports {STAGES[_stage(dep)][0]})"
                      for name, deps in GRAPH.items() for dep in deps
                      if _stage(dep) > _stage(name))
    assert backward == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle():
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small_enough_to_read_in_one_sitting(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{MODULES[name]} has {lines} lines: split it along its seams"


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []


def test_the_public_api_is_what_all_says():
    """``__all__`` is written out (a linter reads it); it names exactly the lazily re-exported API,
    and every name resolves."""
    import pmcsuite
    assert sorted(pmcsuite.__all__) == sorted([*pmcsuite._API, "__version__", "collect"])
    for name in pmcsuite.__all__:
        assert getattr(pmcsuite, name) is not None
    assert callable(pmcsuite.collect)
