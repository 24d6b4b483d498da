"""`bpmn/` is the language, not the product: it never imports Django, the engine or the portal."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.corpus import REPO

FORBIDDEN = ("django", "rest_framework", "channels", "celery", "guardian", "engine",
             "tasks_portal", "config")


def test_no_module_in_bpmn_imports_django_or_the_app():
    offenders = []
    for path in sorted((REPO / "bpmn").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in FORBIDDEN:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}")
    assert offenders == []


def test_importing_every_bpmn_module_loads_no_django():
    code = (
        "import pkgutil, importlib, sys, bpmn\n"
        "for m in pkgutil.walk_packages(bpmn.__path__, 'bpmn.'):\n"
        "    if m.name != 'bpmn.__main__': importlib.import_module(m.name)\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, check=True)
    assert proc.stdout.strip() == ""
