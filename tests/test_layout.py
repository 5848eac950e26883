"""The package's layering: no import circle among raycil's modules (imports under ``if
TYPE_CHECKING:`` and inside functions counted: they are dependencies a reader and a type checker
follow), and the settings side (the schema, the sweep's planner, the report) loads no torch."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "raycil"


def module_names() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The raycil modules ``name`` imports anywhere in its file (a package's ``__init__`` is a
    module of its own: ``from raycil.x import y`` depends on ``raycil.x.y`` if that is a module,
    else on ``raycil.x``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            subs = [f"{base}.{a.name}" for a in node.names]
            targets = [s for s in subs if s in modules] or [base]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.startswith("raycil") and target != name:
                found.add(target)
    return found


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as the list of its modules, or [] (iterative DFS)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return []


def test_no_import_cycle_among_the_modules():
    modules = module_names()
    graph = {name: imported(name, path, modules) for name, path in modules.items()}
    assert len(graph) > 90 and sum(map(len, graph.values())) > 200  # the parse found the imports
    assert cycle(graph) == []


def test_the_cycle_finder_finds_a_planted_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_the_schema_the_planner_and_the_report_load_no_torch(tmp_path):
    """``import raycil.config``, planning every shipped sweep and ``python -m raycil.report``'s
    module leave torch (and the learner's code) out of ``sys.modules``; so does what a trial's
    Tune driver does besides relaying to its actors: import the trial and actor modules, build the
    trial's config and its memory's arguments (every plug-in's codec)."""
    out = run_python(f"""
        import sys
        from pathlib import Path
        import raycil.config
        from raycil.sweep.plan import plan_sweep
        import raycil.report.cli, raycil.sweep.trial, raycil.sweep.actors
        from raycil.plugins.assembly import memory_args
        for path in sorted(Path("ablations").glob("*.yaml")) + sorted(Path("search_spaces").glob("*.yaml")):
            plan = plan_sweep(path, "smoke", {{"storage_path": {str(tmp_path)!r}}})
            for trial in plan.trials:
                memory_args(plan.experiment_config(trial))
        heavy = ("torch", "torchvision", "raycil.learner.learner", "raycil.methods.base",
                 "raycil.plugins.seam")
        print(sorted(m for m in sys.modules if m.startswith(heavy)))
    """)
    assert out == "[]"
