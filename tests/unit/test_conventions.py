"""Conventions of the code that a reader relies on: services never commit; modules stay small."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "app" / "services"
# commit_with_retry lives here: the one helper views and jobs commit through
MAY_COMMIT = {"transactions.py"}
MAX_MODULE_LINES = 350


def transaction_calls(path):
    """``(line, name)`` of every ``….commit()`` and ``….rollback()`` call in a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [(node.lineno, node.func.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("commit", "rollback")]


def test_services_never_commit_or_roll_back():
    found = [f"{path.relative_to(ROOT)}:{line}: .{name}()"
             for path in sorted(SERVICES.rglob("*.py"))
             if path.relative_to(SERVICES).as_posix() not in MAY_COMMIT
             for line, name in transaction_calls(path)]
    assert found == [], ("services leave commits and rollbacks to their outermost caller "
                         "(a view, CLI command or job in app/jobs): " + "; ".join(found))


def test_the_check_sees_a_commit(tmp_path):
    module = tmp_path / "service.py"
    module.write_text("def f(session):\n    '''Never .commit() here.'''\n"
                      "    session.commit()\n    db.session.rollback()\n")
    assert transaction_calls(module) == [(3, "commit"), (4, "rollback")]


def test_no_module_of_the_app_or_its_config_is_over_350_lines():
    modules = [*ROOT.glob("*.py"), *(ROOT / "app").rglob("*.py"),
               *(ROOT / "settings").rglob("*.py")]
    long = {str(path.relative_to(ROOT)): lines
            for path in sorted(modules)
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}, "split these by concern"
