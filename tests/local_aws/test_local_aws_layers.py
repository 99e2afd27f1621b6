"""The local Personalize service's modules import each other without cycles, in layers.

Imports inside functions count too: a function-level import is how a cycle hides.
"""

from __future__ import annotations

import ast
from pathlib import Path

import local_aws.personalize

PACKAGE = "local_aws.personalize"
ROOT = Path(local_aws.personalize.__file__).parent
# Modules that must not reach each other in either direction.
APART = ("protocol", "state", "training")


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """Modules of the package that one import statement names."""
    if isinstance(node, ast.Import):
        candidates = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            base = base[: len(base) - node.level + (1 if is_package else 0)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        candidates = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
    else:
        return set()
    found = set()
    for name in candidates:
        while name and name not in known:  # "a.b.c" counts as an import of package "a.b"
            name = name.rpartition(".")[0]
        if name and name != PACKAGE:
            found.add(name)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> package modules it imports anywhere in its source (top level and in functions)."""
    files = {_module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    known = set(files)
    graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        graph[module] = {
            target
            for node in ast.walk(tree)
            for target in _imported(node, module, is_package, known)
            if target != module
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> list[str] | None:
        if module in visiting:
            return visiting[visiting.index(module) :] + [module]
        if module in done:
            return None
        visiting.append(module)
        for target in sorted(graph.get(module, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module)
        if cycle:
            return cycle
    return None


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_graph_sees_function_level_imports_and_cycles(tmp_path):
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("def late():\n    from .a import thing\n")
    graph = import_graph(tmp_path)
    assert graph[f"{PACKAGE}.b"] == {f"{PACKAGE}.a"}
    assert find_cycle(graph) == [f"{PACKAGE}.a", f"{PACKAGE}.b", f"{PACKAGE}.a"]


def test_personalize_modules_import_without_cycles():
    graph = import_graph()
    assert len(graph) > 10 and f"{PACKAGE}.service" in graph
    assert find_cycle(graph) is None


def test_protocol_state_and_training_stay_apart():
    graph = import_graph()
    for module in APART:
        others = {f"{PACKAGE}.{other}" for other in APART if other != module}
        assert not reachable(graph, f"{PACKAGE}.{module}") & others, module


def test_checks_and_job_bodies_sit_below_the_handlers():
    graph = import_graph()
    handlers = {m for m in graph if m.startswith(f"{PACKAGE}.handlers")}
    top = {f"{PACKAGE}.service"} | handlers
    for module in ("checks", "work"):
        assert not reachable(graph, f"{PACKAGE}.{module}") & top, module
    # request checks only read: they neither start jobs nor run job bodies
    assert not reachable(graph, f"{PACKAGE}.checks") & {f"{PACKAGE}.work", f"{PACKAGE}.jobs"}
