"""The layering of docs/architecture.md, enforced on the import graph.

Every import counts, including those inside functions. The rules:

1. No import cycles between modules.
2. Each module belongs to one layer, and imports only modules of its own layer or the layers below:
   library < kernel < models < selectors < actions < services < interfaces.
3. Inside one layer, apps call each other only in :data:`APP_ORDER` (an app may use the apps left of it).
4. The library (G-code, CAM, protocols, transport, streaming, simulators, drawing, vision pipeline) never
   imports Django or a Django app.
5. Interfaces (views, API, tasks, commands, the demo) never import an ``actions`` module or a ``do_``
   function: they call guarded services, or the system's own entry points (:data:`SYSTEM_ENTRY_POINTS`).
6. Every public function of a ``services`` module checks its actor first (``authorize``); unguarded steps
   are ``do_*`` functions in ``actions`` modules.
7. No serializer and no HTTP client below the interfaces.
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mes", "machines", "vision", "drawing", "simulators", "demo")

LAYERS = ("library", "kernel", "models", "selectors", "actions", "services", "interfaces")
LIBRARY = (
    "drawing",
    "simulators",
    "machines.gcode",
    "machines.cam",
    "machines.protocol",
    "machines.transport",
    "machines.streaming",
    "machines.maintenance",
    "vision.pipeline",
)
# Django-aware modules every app may use: errors, roles, state tables, queue names, pure dashboard maths.
KERNEL = (
    "mes.core.errors",
    "mes.core.roles",
    "mes.core.transitions",
    "mes.core.queues",
    "mes.catalog.specs",
    "mes.dashboards.metrics",
)
# The system's own entry points, beside the guarded services: a machine's run, an inspection run, a worker's
# heartbeat. Tasks call these; they act on the machine's, the station's or the worker's word.
SYSTEM_ENTRY_POINTS = ("machines.runner", "vision.runner", "mes.core.heartbeats")
APP_ORDER = ("core", "catalog", "repairs", "inventory", "machines", "production", "vision", "dashboards")


def _module_files() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py") if (ROOT / package).is_dir() else ():
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _module_files()


def _resolve(name: str) -> str | None:
    """The project module an imported dotted name lives in (``a.b.func`` -> ``a.b``), else None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, str, int]]:
    """(imported module, imported name, line) for every import in ``module``, at any depth."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                found.append((f"{base}.{alias.name}", alias.name, node.lineno))
    return found


def _imports_inside_functions(module: str) -> list[tuple[str, int]]:
    """(imported project module, line) for imports placed inside a function or method of ``module``."""
    found = []
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    names = [a.name for a in inner.names] if isinstance(inner, ast.Import) else [inner.module]
                    found += [(name, inner.lineno) for name in names if name and _resolve(name)]
    return found


def _graph() -> dict[str, set[str]]:
    edges = defaultdict(set)
    for module in MODULES:
        for name, _, _ in _imports(module):
            target = _resolve(name)
            if target and target != module and not module.startswith(f"{target}."):
                edges[module].add(target)
    return edges


GRAPH = _graph()


def layer_of(module: str) -> str:
    if module.startswith(LIBRARY) and any(module == p or module.startswith(f"{p}.") for p in LIBRARY):
        return "library"
    if module in KERNEL:
        return "kernel"
    last = module.rpartition(".")[2]
    if last in ("models", "selectors", "actions", "services"):
        return last
    if module in SYSTEM_ENTRY_POINTS:
        return "services"
    return "interfaces"


def app_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if parts[0] == "mes" and len(parts) > 1 else parts[0]


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in MODULES:
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_sees_every_module_and_imports_inside_functions():
    assert len(MODULES) > 100 and "mes.production.services" in MODULES
    # mes.celery imports the heartbeat entry point inside its signal handler (apps load after it).
    assert "mes.core.heartbeats" in GRAPH["mes.celery"]
    assert layer_of("mes.celery") == "interfaces" and layer_of("machines.runner") == "services"


# Imports that must wait for a function call, each with its reason.
DEFERRED_IMPORTS = {
    # mes/__init__ loads the Celery app before Django's apps are ready; the handler runs in a worker.
    ("mes.celery", "mes.core.heartbeats"),
}


def test_project_imports_sit_at_the_top_of_modules():
    deferred = {
        (module, name): line for module in MODULES for name, line in _imports_inside_functions(module)
    }
    assert set(deferred) == DEFERRED_IMPORTS, deferred


def test_no_import_cycles():
    assert _cycles() == []


def _violations_of_direction() -> list[str]:
    rank = {name: i for i, name in enumerate(LAYERS)}
    bad = []
    for module, targets in GRAPH.items():
        for target in targets:
            mine, theirs = layer_of(module), layer_of(target)
            if rank[theirs] > rank[mine]:
                bad.append(f"{module} ({mine}) imports {target} ({theirs})")
            elif mine == theirs and mine != "interfaces" and app_of(module) != app_of(target):
                order = {app: i for i, app in enumerate(APP_ORDER)}
                if mine != "library" and order.get(app_of(target), 99) > order.get(app_of(module), 99):
                    bad.append(f"{module} imports {target}: {app_of(module)} comes before {app_of(target)}")
    return sorted(bad)


def test_every_import_points_downward():
    assert _violations_of_direction() == []


def test_the_library_knows_nothing_of_django():
    bad = [
        f"{module}:{line} imports {name}"
        for module in MODULES
        if layer_of(module) == "library"
        for name, _, line in _imports(module)
        if name.split(".")[0] in ("django", "rest_framework", "celery", "mes", "demo")
    ]
    assert bad == []


def test_interfaces_call_no_unguarded_step():
    bad = [
        f"{module}:{line} imports {name}"
        for module in MODULES
        if layer_of(module) == "interfaces"
        for name, alias, line in _imports(module)
        if (_resolve(name) or "").endswith(".actions") or alias.startswith("do_")
    ]
    assert bad == []


def test_no_serializer_or_http_client_below_the_interfaces():
    """Serialising for the API and talking HTTP belong to interfaces (``vision.callbacks``, the API)."""
    forbidden = ("rest_framework", "urllib.request", "http.client", "requests")
    bad = [
        f"{module}:{line} imports {name}"
        for module in MODULES
        if layer_of(module) in ("models", "selectors", "actions", "services")
        for name, _, line in _imports(module)
        if name.startswith(forbidden) or (_resolve(name) or "").endswith(".serializers")
    ]
    assert bad == []


def _public_functions(module: str):
    tree = ast.parse(MODULES[module].read_text())
    return [n for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.endswith(".services")))
def test_services_check_their_actor(module):
    for function in _public_functions(module):
        params = [a.arg for a in function.args.args]
        calls = {
            node.func.id
            for node in ast.walk(function)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert params[:1] == ["actor"], f"{module}.{function.name} must take the actor first"
        assert "authorize" in calls, f"{module}.{function.name} never calls authorize()"
        first_check = min(_call_lines(function, lambda name: name == "authorize"))
        steps = _call_lines(function, lambda name: name.startswith("do_"))
        assert all(first_check < line for line in steps), (
            f"{module}.{function.name} runs an unguarded step before authorize()"
        )


def _call_lines(function: ast.FunctionDef, wanted) -> list[int]:
    """Line numbers of the calls in ``function`` whose callee's name (``f`` or ``x.f``) is ``wanted``."""
    lines = []
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if wanted(callee):
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.endswith(".actions")))
def test_unguarded_steps_say_so(module):
    for function in _public_functions(module):
        assert function.name.startswith("do_"), f"{module}.{function.name} must be named do_*"
