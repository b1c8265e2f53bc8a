"""Every button/action connection in samdesk/ui: the ``checked`` bool never lands in a
parameter meant for something else (the Classes panel's "+" once created a class "False").

A static audit (ast): for each ``….clicked/triggered/toggled.connect(slot)`` and each slot
given to the menu helpers ``_action(menu, text, slot, …)`` / ``_add(menu, name, text, slot,
…)``, the slot must take no argument, or name its first one as a bool (checked, on, …).
Methods are looked up by name among the functions defined in samdesk/ui; Qt's own slots
(close, hide, reject, undo…) take no bool-sensitive argument.
"""

from __future__ import annotations

import ast
from pathlib import Path

import samdesk.ui

UI = Path(samdesk.ui.__file__).parent
BOOL_NAMES = {"checked", "_checked", "_c", "on", "_on", "_", "visible", "enabled"}
SIGNALS = {"clicked", "triggered", "toggled"}
HELPERS = {"_action": 2}  # position of the slot argument (workflow's _add wraps its slot)
ITEM_VIEWS = {"view", "list", "tree", "table"}  # their clicked(QModelIndex) is no bool


def _functions(root: Path) -> dict[str, list[ast.FunctionDef]]:
    found: dict[str, list[ast.FunctionDef]] = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                found.setdefault(node.name, []).append(node)
    return found


def _first_param(args: ast.arguments, skip_self: bool) -> str | None:
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    if skip_self and names and names[0] in ("self", "cls"):
        names = names[1:]
    return names[0] if names else None


def _loop_values(name: str, node: ast.AST, parents: dict[ast.AST, ast.AST]) -> list[ast.expr]:
    """What a loop variable ``name`` takes in ``for a, b, name in ((…), (…))`` around node."""
    while node in parents:
        node = parents[node]
        if not isinstance(node, ast.For) or not isinstance(node.target, ast.Tuple):
            continue
        names = [getattr(t, "id", None) for t in node.target.elts]
        if name in names and isinstance(node.iter, ast.Tuple | ast.List):
            i = names.index(name)
            return [e.elts[i] for e in node.iter.elts if isinstance(e, ast.Tuple | ast.List)]
    return []


def _problem(slot: ast.expr, functions: dict[str, list[ast.FunctionDef]]) -> str | None:
    if isinstance(slot, ast.Lambda):
        first = _first_param(slot.args, skip_self=False)
        if first is not None and first not in BOOL_NAMES:
            return f"lambda's first parameter {first!r} receives the checked bool"
        return None
    name = slot.attr if isinstance(slot, ast.Attribute) else getattr(slot, "id", None)
    for function in functions.get(name, []):
        first = _first_param(function.args, skip_self=True)
        if first is not None and first not in BOOL_NAMES:
            return f"{name}({first}=…) receives the checked bool"
    return None


def connection_problems(root: Path = UI) -> list[str]:
    functions = _functions(root)
    problems = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: up for up in ast.walk(tree) for child in ast.iter_child_nodes(up)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            func, slot = node.func, None
            if (
                func.attr == "connect"
                and isinstance(func.value, ast.Attribute)
                and func.value.attr in SIGNALS
                and node.args
            ):
                slot = node.args[0]
            elif func.attr in HELPERS and len(node.args) > HELPERS[func.attr]:
                slot = node.args[HELPERS[func.attr]]
            if slot is None:
                continue
            owner = func.value.value if func.attr == "connect" else None
            if (
                isinstance(owner, ast.Attribute | ast.Name)
                and (getattr(owner, "attr", None) or getattr(owner, "id", None)) in ITEM_VIEWS
            ):
                continue
            slots = [slot]
            if isinstance(slot, ast.Name):
                slots = _loop_values(slot.id, node, parents) or slots
            for one in slots:
                problem = _problem(one, functions)
                if problem:
                    problems.append(f"{path.relative_to(root)}:{node.lineno}: {problem}")
    return problems


def test_no_button_or_action_passes_checked_into_a_real_parameter():
    assert connection_problems() == []


def test_the_audit_catches_the_old_plus_button_mistake(tmp_path):
    # The audit itself must see the bug it was written for.
    bad = (
        "class P:\n"
        "    def add_class(self, name=None):\n"
        "        pass\n"
        "    def build(self, row):\n"
        '        for name, slot in (("+", self.add_class), ("-", lambda: None)):\n'
        "            button = QToolButton(text=name)\n"
        "            button.clicked.connect(slot)\n"
    )
    (tmp_path / "bad.py").write_text(bad)
    (problem,) = connection_problems(tmp_path)
    assert "add_class(name=…)" in problem
