"""No `async def` in src/ does blocking database or file I/O on the event loop itself.

An AST check of every module: inside the body of an `async def` (not inside a nested plain
`def` or lambda, which is what gets handed to the threadpool), it refuses

- `open(...)`, `.read_text()`, `.write_text()`, `.read_bytes()`, `.write_bytes()`;
- `read(...)` / `write(...)` of `indbetaling.db` (imported by name, or as `db.read`/`db.write`);
- `<...>engine.connect()` / `<...>engine.begin()`;
- a module-level plain function of ours that does one of those itself, called by its imported
  name (`service.route_only(...)` where `service` is `indbetaling.beskedfordeler.service`).

The runtime guard (INDBETALING_FORBID_DB_ON_EVENT_LOOP) proves the database part for the paths
the tests reach; this check also covers paths they do not reach, and file I/O.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "indbetaling"
FILE_METHODS = {"read_text", "write_text", "read_bytes", "write_bytes"}
ENGINE_METHODS = {"connect", "begin"}
DB_FUNCTIONS = {"read", "write"}

ALLOWED: dict[str, str] = {
    # "module.py:function": "what it does on the loop, and whose it is to move off",
}
"""Known offenders outside this check's owners' files, each to be fixed by its owner."""


def _db_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Names bound to `indbetaling.db.read/write`, and names bound to the module itself."""
    functions: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "indbetaling.db":
            functions |= {a.asname or a.name for a in node.names if a.name in DB_FUNCTIONS}
        elif isinstance(node, ast.ImportFrom) and node.module == "indbetaling":
            modules |= {a.asname or a.name for a in node.names if a.name == "db"}
    return functions, modules


def _on_the_loop(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """The nodes of a function body that run when it runs: nested functions and lambdas
    (handed to a thread, or checked on their own when they are `async def`) are skipped."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        yield node
        pending.extend(ast.iter_child_nodes(node))


def _name_of(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _blocking(call: ast.Call, db_functions: set[str], db_modules: set[str]) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        if func.id == "open":
            return "open()"
        if func.id in db_functions:
            return f"db.{func.id}()"
        return None
    if not isinstance(func, ast.Attribute):
        return None
    if func.attr in FILE_METHODS:
        return f".{func.attr}()"
    if func.attr in ENGINE_METHODS and _name_of(func.value).endswith("engine"):
        return f"engine.{func.attr}()"
    if func.attr in DB_FUNCTIONS and _name_of(func.value) in db_modules:
        return f"db.{func.attr}()"
    return None


def _direct(body: list[ast.stmt], tree: ast.Module) -> Iterator[tuple[ast.Call, str]]:
    db_functions, db_modules = _db_names(tree)
    for node in _on_the_loop(body):
        if isinstance(node, ast.Call):
            what = _blocking(node, db_functions, db_modules)
            if what:
                yield node, what


def _module_name(path: Path) -> str:
    return ".".join(("indbetaling", *path.relative_to(SRC).with_suffix("").parts))


def blocking_functions() -> set[str]:
    """`indbetaling.mod.func` of every module-level plain function that blocks: by itself, or
    by calling (by its imported or own module's name) one that does."""
    blocking: set[str] = set()
    calls: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = _module_name(path)
        imported = _imported(tree)
        local = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            name = f"{module}.{node.name}"
            if any(_direct(node.body, tree)):
                blocking.add(name)
            calls[name] = {
                _called(c, imported) or _local(c, module, local)
                for c in _on_the_loop(node.body)
                if isinstance(c, ast.Call)
            }
    while True:
        more = {name for name, called in calls.items() if called & blocking} - blocking
        if not more:
            return blocking
        blocking |= more


def _local(call: ast.Call, module: str, local: set[str]) -> str:
    func = call.func
    return f"{module}.{func.id}" if isinstance(func, ast.Name) and func.id in local else ""


def _imported(tree: ast.Module) -> dict[str, str]:
    """Local name → the dotted name of what it stands for, from `from indbetaling... import`."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("indbetaling"):
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _called(call: ast.Call, imported: dict[str, str]) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return imported.get(func.id, "")
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        module = imported.get(func.value.id)
        return f"{module}.{func.attr}" if module else ""
    return ""


def findings(source: str, module: str, blocking: Collection[str] = ()) -> list[str]:
    """`module:function (line n): call` for every blocking call on the loop in `source`."""
    tree = ast.parse(source, module)
    imported = _imported(tree)
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.AsyncFunctionDef):
            continue
        where = f"{module}:{function.name}"
        for call, what in _direct(function.body, tree):
            found.append(f"{where} (line {call.lineno}): {what}")
        for node in _on_the_loop(function.body):
            if isinstance(node, ast.Call) and _called(node, imported) in blocking:
                name = _called(node, imported).rsplit(".", 2)
                found.append(f"{where} (line {node.lineno}): {name[-2]}.{name[-1]}()")
    return sorted(set(found))


def blocking_calls(path: Path, blocking: Collection[str]) -> list[str]:
    return findings(path.read_text(encoding="utf-8"), str(path.relative_to(SRC)), blocking)


def all_findings() -> list[str]:
    blocking = blocking_functions()
    return [f for path in sorted(SRC.rglob("*.py")) for f in blocking_calls(path, blocking)]


def _key(finding: str) -> str:
    return finding.split(" (line", 1)[0]


def test_no_async_def_in_src_blocks_the_loop() -> None:
    new = [f for f in all_findings() if _key(f) not in ALLOWED]
    assert new == [], "blocking I/O on the event loop:\n" + "\n".join(new)


def test_allow_list_names_only_real_offenders() -> None:
    """An entry whose offence is gone must leave the list, so the list only shrinks."""
    found = {_key(f) for f in all_findings()}
    assert sorted(set(ALLOWED) - found) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("async def f(p):\n    return p.read_text()\n", [".read_text()"]),
        ("async def f():\n    with open('x') as fh:\n        return fh\n", ["open()"]),
        (
            "from indbetaling.db import write\n"
            "async def f(e):\n    with write(e) as conn:\n        return conn\n",
            ["db.write()"],
        ),
        (
            "from indbetaling import db\n"
            "async def f(e):\n    with db.read(e) as conn:\n        return conn\n",
            ["db.read()"],
        ),
        ("async def f(self):\n    return self.engine.begin()\n", ["engine.begin()"]),
        (
            "from indbetaling.db import write\n"
            "async def f(e):\n"
            "    def work():\n        with write(e) as conn:\n            return conn\n"
            "    return await run_in_threadpool(work)\n",
            [],
        ),
        ("async def f(p):\n    return await to_thread(lambda: p.read_bytes())\n", []),
        ("async def f(request):\n    return await request.body()\n", []),
        (
            "from indbetaling.beskedfordeler import service\n"
            "async def f(bf, body):\n    return service.route_only(bf, 'x', body)\n",
            ["service.route_only()"],
        ),
        (
            "from indbetaling.beskedfordeler import service\n"
            "async def f(bf, body):\n"
            "    return await run_in_threadpool(service.route_only, bf, 'x', body)\n",
            [],
        ),
    ],
)
def test_the_check_finds_what_it_should(source: str, expected: list[str]) -> None:
    blocking = {"indbetaling.beskedfordeler.service.route_only"}
    assert [f.rsplit(": ", 1)[1] for f in findings(source, "probe.py", blocking)] == expected


def test_the_index_knows_the_blocking_use_cases() -> None:
    blocking = blocking_functions()
    assert "indbetaling.beskedfordeler.service.route_only" in blocking
    assert "indbetaling.beskedfordeler.service.redeliver_all" in blocking  # through redeliver
