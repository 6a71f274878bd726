"""The import graph: no circles, and every edge points down the layers of DESIGN.md.

apps -> export -> tfbert; inside tfbert: tasks -> training -> checkpoints -> models /
tokenization / data -> layers -> config. A task imports no other task.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRST_PARTY = ("tfbert", "export", "apps", "benchmarks")

# Higher imports lower; equal ranks are separate rooms that do not import each other.
RANKS = {
    "tfbert.errors": -1,  # the one user-error type, raised at every layer
    "tfbert.config": 0,
    "tfbert.layers": 1,
    "tfbert.models": 2,
    "tfbert.tokenization": 2,
    "tfbert.data": 2,
    "tfbert.checkpoints": 3,
    "tfbert.training": 4,
    "tfbert.tasks": 5,
    "tfbert": 6,
    "export": 7,
    "apps": 8,
    "benchmarks": 9,
}


def module_files():
    """`{module name: path}` of every first-party module."""
    modules = {}
    for top in FIRST_PARTY:
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
                    if parts[-1] == "__init__":
                        parts.pop()
                    modules[".".join(parts)] = path
    return modules


def imports_of(path, modules):
    """First-party modules `path` imports (a `from package import module` names the module)."""
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                     else node.module for alias in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in FIRST_PARTY and n in modules)
    return found


def component(module):
    """The longest `RANKS` key that is `module` or a package above it."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in RANKS:
            return ".".join(parts[:end])
    raise AssertionError(f"{module} is in no layer of RANKS")


def task_of(module):
    parts = module.split(".")
    return parts[2] if module.startswith("tfbert.tasks.") and len(parts) > 3 else None


@pytest.fixture(scope="module")
def graph():
    modules = module_files()
    return {name: imports_of(path, modules) for name, path in modules.items()}


def test_no_import_circle(graph):
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                circle = stack[stack.index(target):] + [target]
                pytest.fail("import circle: " + " -> ".join(circle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_imports_point_down(graph):
    backward = []
    for module, targets in graph.items():
        source = component(module)
        for target in targets:
            dest = component(target)
            if dest == source:
                continue
            if RANKS[dest] >= RANKS[source]:
                backward.append(f"{module} -> {target}")
    assert not backward, "imports against the layers:\n" + "\n".join(sorted(backward))


def test_tasks_do_not_import_each_other(graph):
    crossing = [f"{m} -> {t}" for m, targets in graph.items() for t in targets
                if task_of(m) and task_of(t) and task_of(m) != task_of(t)]
    assert not crossing, "\n".join(sorted(crossing))


def test_graph_sees_the_layers(graph):
    """The walk itself works: known edges of each kind are found."""
    assert "tfbert.tasks.signature" in graph["tfbert.tasks.ner.serving"]
    assert "tfbert.training.curves" in graph["tfbert.training.report"]
    assert "tfbert.tasks.ner.features" in graph["tfbert.tasks.ner.run"]
    assert component("tfbert.tasks.ner.run") == "tfbert.tasks"


def test_serving_package_stands_alone(graph):
    """The local server package imports nothing of the exporter, the programs or tfbert."""
    outside = [f"{m} -> {t}" for m, targets in graph.items() if m.startswith("export.serving")
               for t in targets if not t.startswith("export.serving")]
    assert not outside, "\n".join(sorted(outside))
