"""The notebooks in ``notebooks/``: stored without outputs, and each runs from a fresh kernel.

The kernel is this interpreter (``sys.executable``), whatever kernelspec named
``python3`` a Jupyter installation elsewhere may hold, so the notebooks import
the railcount under test. The working directory is ``notebooks/``.

Figures: the kernel runs with matplotlib's inline backend, set explicitly in
``MPLBACKEND`` (an inherited ``MPLBACKEND=Agg`` would otherwise apply). It is as
headless as Agg, and unlike Agg it renders every figure to a PNG output when a
cell calls ``plt.show()``, so an error in drawing fails the test and the test
can check that each notebook drew something.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from jupyter_client.kernelspec import KernelSpec  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
EXPECTED = {"01_scan_a_tile.ipynb", "02_check_the_tumangang_claim.ipynb", "03_accuracy_against_truth.ipynb"}


class ThisPythonKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is always ``sys.executable -m ipykernel_launcher``."""

    @property
    def kernel_spec(self) -> KernelSpec:  # type: ignore[override]
        if self._kernel_spec is None:
            self._kernel_spec = KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name=f"Python ({sys.executable})", language="python")
        return self._kernel_spec


INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


@pytest.fixture(autouse=True)
def _headless(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", INLINE_BACKEND)


def _execute(nb, *, timeout: int = 600):
    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3", kernel_manager_class=ThisPythonKernelManager,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    return client.execute()


def _outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out:
            parts.append(out["data"].get("text/plain", ""))
    return "".join(parts)


def test_the_notebooks_are_there():
    assert EXPECTED <= {p.name for p in PATHS}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code cells"
    for i, cell in enumerate(code):
        assert cell.outputs == [], f"{path.name}: code cell {i} has stored outputs"
        assert cell.execution_count is None, f"{path.name}: code cell {i} has an execution count"
    assert nb.cells[0].cell_type == "markdown", f"{path.name} should open with an explanation"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_imports_only_railcount_and_common_libraries(path):
    allowed = {"railcount", "numpy", "pandas", "matplotlib", "json", "pathlib", "tempfile", "shutil"}
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]):
                top = words[1].split(".")[0]
                assert top in allowed, f"{path.name} imports {top!r}"


def test_kernel_is_this_interpreter():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, sys, matplotlib\nprint(sys.executable)\nprint(os.getcwd())\nprint(matplotlib.get_backend())")])
    out = _outputs_text(_execute(nb, timeout=120).cells[0]).split("\n")
    assert Path(out[0]).resolve() == Path(sys.executable).resolve()
    assert Path(out[1]).resolve() == NOTEBOOKS.resolve()
    assert out[2] == INLINE_BACKEND


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_runs_without_errors(path):
    nb = _execute(nbformat.read(path, as_version=4))  # raises CellExecutionError on any error
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "not every cell ran"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} drew no figure"
    if path.name.startswith("02_"):
        text = "".join(_outputs_text(c) for c in code)
        assert "SIMULATED" in text
        for verdict in ("SUPPORTED", "CONTRADICTED", "INCONCLUSIVE"):
            text = text.replace(verdict, "<verdict>")
        assert text.count("<verdict>") >= 5, "one verdict line per clause expected"
