"""The package's import graph, read from the source with ``ast``: layered, without cycles.

Why: a lower layer that imports a higher one (the model importing the evaluation, data importing
experiments) ties what should stand alone to what is built on it, and a cycle makes import order matter.
Imports inside functions count too: a lazy import is still a dependency. Every module must have a layer
here or counts as the top layer (book and site tooling), which nothing below may import.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import spectm

PACKAGE = Path(spectm.__file__).parent

#: Layer of each module (a name, or a package prefix ending in "."); a module may import only from its
#: own layer or below. Lower: facts, data and the model; higher: training, evaluation, experiments, book.
LAYERS = {
    0: ("spectm", "spectm.atomic", "spectm.paths", "spectm.profiles", "spectm.paper", "spectm.verdicts",
        "spectm.provenance", "spectm.data.errors", "spectm.resources", "spectm.resources."),
    1: ("spectm.bands", "spectm.maps", "spectm.physics", "spectm.physics.", "spectm.data", "spectm.data.",
        "spectm.twin", "spectm.twin."),
    2: ("spectm.masking", "spectm.model", "spectm.datasets", "spectm.checkpoint", "spectm.plotting"),
    3: ("spectm.train",),
    4: ("spectm.evaluate", "spectm.evaluate.", "spectm.budget", "spectm.embeddings"),
    5: ("spectm.experiments", "spectm.pretrain", "spectm.results"),
    6: ("spectm.fair_test", "spectm.book", "spectm.cli", "spectm.pages", "spectm.site_check",
        "spectm.sphinx_site"),
}
TOP = max(LAYERS)

#: The lower layers that must never reach the higher ones (the rule the layers above make exact).
LOWER = ("spectm.data", "spectm.physics", "spectm.bands", "spectm.masking", "spectm.model")
HIGHER = ("spectm.experiments", "spectm.fair_test", "spectm.book", "spectm.evaluate")


def module_files() -> dict[str, Path]:
    files = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("spectm", *path.relative_to(PACKAGE).with_suffix("").parts)
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def _imported_names(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Full dotted names an import statement refers to (relative imports resolved)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parent = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            parent = parent.rpartition(".")[0]
        base = f"{parent}.{base}" if base else parent
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere in its source (top level or in a function)."""
    files = module_files()

    def owner(name: str) -> str | None:  # the module a dotted name lives in ("spectm.train.train" -> train)
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name in _imported_names(node, module, path.name == "__init__.py"):
                    if name.split(".")[0] == "spectm" and (target := owner(name)) not in (None, module):
                        targets.add(target)
        graph[module] = targets
    return graph


def layer(module: str) -> int:
    """The module's layer in :data:`LAYERS`; an unlisted module is top layer."""
    for rank, names in LAYERS.items():
        if module in names or any(n.endswith(".") and module.startswith(n) for n in names):
            return rank
    return TOP


def _in(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_named_lower_and_higher_modules_have_their_layers():
    assert max(layer(m) for m in module_files() if _in(m, LOWER)) < min(
        layer(m) for m in module_files() if _in(m, HIGHER))


def test_no_module_imports_from_a_higher_layer():
    graph = import_graph()
    upward = sorted(f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})" for a, targets in graph.items()
                    for b in targets if layer(b) > layer(a))
    assert not upward, "\n".join(upward) + "\n(a new module: give it its layer in LAYERS)"


def test_data_physics_bands_masking_and_model_never_reach_evaluation_or_experiments():
    graph = import_graph()
    bad = sorted(f"{a} imports {b}" for a, targets in graph.items() if _in(a, LOWER)
                 for b in targets if _in(b, HIGHER))
    assert not bad, "\n".join(bad)


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_the_checks_see_lazy_imports_and_would_catch_a_cycle(tmp_path):
    """The graph reads imports inside functions (the budget <-> train cycle was one), and a cycle fails."""
    graph = import_graph()
    assert "spectm.train" in graph["spectm.budget"]  # imported inside budget.time_steps
    with pytest.raises(graphlib.CycleError):
        tuple(graphlib.TopologicalSorter({**graph, "spectm.model": {"spectm.train"}}).static_order())


MAX_FUNCTION_LINES = 60


def long_functions(files: dict[str, Path]) -> list[str]:
    """``module.function: N lines`` for each function over :data:`MAX_FUNCTION_LINES` whose ``def`` line
    does not say why with a ``# long:`` comment (methods and nested functions included)."""
    long = []
    for module, path in sorted(files.items()):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and "# long:" not in lines[node.lineno - 1]:
                    long.append(f"{module}.{node.name}: {length} lines")
    return long


def test_every_function_of_the_package_is_short_or_says_why():
    """A function over 60 lines, in any module of ``spectm`` (found, not listed), needs a ``# long:``
    comment with its reason on the line of its ``def``."""
    files = module_files()
    assert len(files) > 40 and {"spectm.twin.blooms", "spectm.data.pace"} <= set(files)  # discovery finds them
    long = long_functions(files)
    assert not long, long


def test_the_length_check_catches_a_long_function_and_accepts_a_reason(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    silent, reasoned = tmp_path / "silent.py", tmp_path / "reasoned.py"
    silent.write_text(f"def f():\n{body}")
    reasoned.write_text(f"def f():  # long: a flat table\n{body}")
    assert long_functions({"silent": silent, "reasoned": reasoned}) == [f"silent.f: {MAX_FUNCTION_LINES + 1} lines"]
