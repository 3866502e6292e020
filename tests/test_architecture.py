"""The package's shape: data flows one way (conf -> extract -> record -> figure -> report), no
module imports one from a later stage, and no two modules import each other, lazily or not."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from conftest import REPO

PACKAGE = REPO / "attnviz"
# The stage of each module (by name prefix) and the stages it may import from. The record
# module is the format extraction writes and the figures read: it knows neither.
STAGES = {
    "conf": (
        *("errors", "atomic", "catalogue", "config", "values", "resources", "joblog"),
        *("paths", "tasks"),  # where results live, what each job is given
    ),
    "record": ("record",),
    "compute": ("statistics",),  # maths on attention blocks that capture and figures share
    "extract": (
        *("models", "families", "gguf", "sites", "capture", "extract", "reduce", "provenance"),
        *("chunked_attention", "softmax_rows"),
    ),
    "demo": ("demo_models",),
    "figure": (
        *("matrices", "views", "words", "long_views", "rollout", "head_stats", "compare"),
        *("analysis", "plot", "izzyviz", "viewer"),
    ),
    "report": ("report", "report_items", "index"),
    "entry": ("api", "__main__"),
}
MAY_IMPORT = {
    "conf": {"conf"},
    "compute": {"conf", "compute"},
    "record": {"conf", "record"},
    "extract": {"conf", "compute", "record", "extract"},
    "demo": {"conf", "extract", "demo"},
    "figure": {"conf", "compute", "record", "figure"},
    "report": {"conf", "record", "report"},
    "entry": set(STAGES),
}


def module_name(path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the attnviz modules it imports anywhere (at the top or inside a function).
    `import attnviz` is left out: it runs only the package's own lines (`__version__`; the
    API is imported on first use)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    imported.add(full if full in modules else node.module)
        graph[name] = {m for m in imported if m in modules and m not in ("attnviz", name)}
    return graph


def stage(module: str) -> str:
    first = module.split(".")[1]
    return next(s for s, prefixes in STAGES.items() if first in prefixes)


def test_every_module_has_a_stage_and_imports_no_later_one():
    graph = import_graph()
    backwards = [
        f"{module} ({stage(module)}) imports {target} ({stage(target)})"
        for module, targets in sorted(graph.items())
        if module != "attnviz"
        for target in sorted(targets)
        if stage(target) not in MAY_IMPORT[stage(module)]
    ]
    assert backwards == []


def test_no_import_cycle():
    graph = import_graph()
    state, cycles = {}, []

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_config_imports_neither_torch_nor_matplotlib():
    """The Snakefile parses the config: it stays light and loads no later stage."""
    code = "import json, sys, attnviz.config; print(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(run.stdout)
    assert not {m.split(".")[0] for m in loaded} & {"torch", "matplotlib", "numpy"}
    assert {stage(m) for m in loaded if m.startswith("attnviz.")} == {"conf"}
