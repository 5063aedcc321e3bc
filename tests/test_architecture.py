"""The layers, checked by reading every module's imports (no module is run).

Data flows one way: files -> ``io`` -> ``scan`` (with ``detect``) -> results ->
``compare`` / ``claims`` -> ``plot``; ``figures`` and ``cli`` join the layers
at the edge. See docs/design.md.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "railcount"

#: Modules allowed to break a rule for now, with the reason. The old training
#: script is being replaced by railcount/training/ (it needs the simulator).
EXEMPT: set[str] = set()


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported from (absolute)
    names: tuple[str, ...]  # names imported from it (empty for ``import x``)
    line: int
    type_checking: bool  # under ``if TYPE_CHECKING:`` (not imported at run time)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> list[Import]:
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []

    def visit(node: ast.AST, type_checking: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_checking)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(module, alias.name, (), node.lineno, type_checking))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node.level, node.module)
            found.append(Import(module, target, tuple(a.name for a in node.names), node.lineno, type_checking))
        for child in ast.iter_child_nodes(node):
            visit(child, type_checking)

    visit(tree, False)
    return found


def _all_imports() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in _imports(path)
            if imp.module not in EXEMPT]


IMPORTS = _all_imports()


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _targets(imp: Import) -> list[str]:
    """Every module an import statement may load: ``from railcount import io`` loads railcount.io."""
    return [imp.target] + [f"{imp.target}.{n}" for n in imp.names]


def _offences(importer: str, forbidden: list[str], *, run_time_only: bool = True) -> list[str]:
    out = []
    for imp in IMPORTS:
        if not _within(imp.module, importer) or (run_time_only and imp.type_checking):
            continue
        for target in _targets(imp):
            if any(_within(target, f) for f in forbidden):
                out.append(f"{imp.module}:{imp.line} imports {target}")
    return out


def test_the_scan_finds_the_imports():
    # the checks below mean something only if imports are read at every depth
    assert any(i.module == "railcount.cli.compare" and "railcount.io" in _targets(i) for i in IMPORTS)
    assert any(i.module == "railcount.figures" and "railcount.io" in _targets(i) for i in IMPORTS)
    assert any(i.module == "railcount.plot" and i.type_checking for i in IMPORTS)


def test_nothing_below_cli_imports_click():
    offences = [f"{i.module}:{i.line}" for i in IMPORTS
                if not _within(i.module, "railcount.cli") and _within(i.target, "click")]
    assert offences == []


def test_plot_draws_what_it_is_given():
    assert _offences("railcount.plot", ["railcount.io", "railcount.compare", "railcount.scan",
                                        "railcount.figures"]) == []


@pytest.mark.parametrize("module", ["railcount.compare", "railcount.claims", "railcount.sites", "railcount.geo",
                                    "railcount.results", "railcount.priors", "railcount.evaluate"])
def test_results_and_claims_are_worked_on_without_io(module):
    assert _offences(module, ["railcount.io", "railcount.scan", "railcount.plot", "railcount.figures",
                              "railcount.cli"]) == []


def test_the_detector_takes_arrays():
    assert _offences("railcount.detect", ["railcount.synth", "railcount.io", "railcount.plot", "railcount.scan",
                                          "railcount.evaluate", "railcount.figures", "railcount.demo",
                                          "railcount.batch", "railcount.training"]) == []


def test_io_does_not_reach_up_the_layers():
    assert _offences("railcount.io", ["railcount.scan", "railcount.detect", "railcount.plot", "railcount.figures",
                                      "railcount.cli", "railcount.batch", "railcount.demo", "railcount.compare",
                                      "railcount.claims", "railcount.sites", "railcount.catalog"]) == []


def test_no_module_imports_another_modules_private_names():
    offences = []
    for imp in IMPORTS:
        if not _within(imp.target, "railcount"):
            continue
        private_module = any(part.startswith("_") and not part.startswith("__") for part in imp.target.split("."))
        private_names = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
        if (private_module or private_names) and imp.target != imp.module:
            offences.append(f"{imp.module}:{imp.line} from {imp.target} import {', '.join(imp.names)}")
    assert offences == []


def test_only_entry_points_configure_logging():
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if _within(module, "railcount.cli") or module.endswith(".__main__") or module in EXEMPT:
            continue  # the command line and ``python -m`` entry points
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("basicConfig", "addHandler", "setLevel") and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id in ("logging", "root"):
                offences.append(f"{module}:{node.lineno}")
    assert offences == []


def test_io_is_a_package_that_keeps_its_public_names():
    from railcount import io

    assert Path(io.__file__).name == "__init__.py"
    for name in ("read_raster", "Raster", "atomic_output", "atomic_outputs", "write_json", "write_text",
                 "write_geotiff", "read_geojson", "read_text", "parse_aoi", "iter_windows", "count_windows",
                 "raster_info", "date_from_tags", "date_from_name", "SUPPORTED_DTYPES"):
        assert hasattr(io, name), name
        assert name in io.__all__
    for path in (PACKAGE / "io").glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 800, f"{path.name} holds too much"


OPTIONAL = ("requests", "urllib3", "pystac", "pystac_client", "mercantile", "xyzservices", "pyarrow", "dask",
            "distributed", "sklearn", "jupyterlab", "pandas")


def _top_level_imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in tree.body:  # module level only: what importing the module loads
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.module, node.lineno))
    return out


def test_optional_dependencies_are_imported_only_when_needed():
    """Importing any module works on the core install: extras are imported inside the functions that need them."""
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name, line in _top_level_imports(path):
            if name.split(".")[0] in OPTIONAL:
                offences.append(f"{_module_name(path)}:{line} imports {name}")
    assert offences == []


def test_only_training_uses_scikit_learn():
    offences = [f"{i.module}:{i.line}" for i in IMPORTS
                if _within(i.target, "sklearn") and not _within(i.module, "railcount.training")]
    assert offences == []
