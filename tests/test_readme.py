"""The README shows what the tool really prints, and installs what it says it does."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

EXAMPLE = re.compile(r"<!-- example: railcount (?P<args>.+?) -->\n```text\n(?P<out>.*?)```", re.S)
VERDICT = re.compile(r"^(SUPPORTED|CONTRADICTED|INCONCLUSIVE)\s+")


def _shape(line: str) -> str:
    """A printed line with what changes from run to run (numbers, verdicts, reasons) masked."""
    line = VERDICT.sub("VERDICT ", line)
    if line.startswith("VERDICT "):
        line = line.split(" — ")[0]
    return re.sub(r"[+-]?\d+(\.\d+)?", "#", line)


def test_the_readme_has_examples():
    assert len(EXAMPLE.findall(README)) >= 2
    assert "count: 73 railcars, 90% interval 70-76" not in README  # the old, invented output


@pytest.mark.slow
@pytest.mark.parametrize("args, shown", [(m.group("args"), m.group("out")) for m in EXAMPLE.finditer(README)],
                         ids=lambda v: v.split()[0] if " " in v else None)
def test_readme_examples_are_what_the_tool_prints(args, shown, monkeypatch):
    from railcount.cli import cli

    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, shlex.split(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    printed = result.output.splitlines()
    lines = shown.rstrip("\n").splitlines()
    for i, line in enumerate(lines):
        if line == "...":  # the rest is left out
            break
        assert i < len(printed), f"the README shows more lines than `railcount {args}` prints"
        real = printed[i]
        if line.endswith(" ..."):  # a line cut short
            line, real = line[:-4], real[: len(line) - 4]
        assert _shape(line) == _shape(real), f"README: {line!r}\nprinted: {real!r}"
    else:
        assert len(lines) == len(printed), "the README leaves out lines without saying so (...)"


@pytest.mark.slow
def test_the_python_example_runs(monkeypatch, capsys):
    block = re.search(r"From Python:\n\n```python\n(.*?)```", README, re.S)
    assert block is not None
    monkeypatch.chdir(ROOT)
    exec(compile(block.group(1), "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\d+ \(\d+, \d+\)", out[0])  # the count and its interval
    assert any(line.startswith(("SUPPORTED", "CONTRADICTED", "INCONCLUSIVE")) for line in out[1:])


def test_the_core_install_is_lean_and_dev_has_every_extra():
    project = PYPROJECT["project"]
    core = " ".join(project["dependencies"])
    for heavy in ("scikit-learn", "dask", "pyarrow", "pystac", "requests", "mercantile", "xyzservices", "jupyter"):
        assert heavy not in core, f"{heavy} is needed only by an extra"
    extras = project["optional-dependencies"]
    assert {"fetch", "batch", "train", "notebooks", "dev"} <= set(extras)
    assert "railcount[fetch,batch,train,notebooks]" in extras["dev"]
    assert any(d.startswith("jupyterlab") for d in extras["notebooks"])
    assert any(d.startswith("scikit-learn") for d in extras["train"])
    for tool in ("pytest", "ruff", "mypy"):
        assert any(d.startswith(tool) for d in extras["dev"])


def test_the_readme_says_how_to_open_the_notebooks_and_install_extras():
    assert "pip install -e '.[notebooks]' && .venv/bin/jupyter lab notebooks/" in README
    for extra in ("fetch", "batch", "train", "notebooks", "dev"):
        assert f"pip install -e '.[{extra}]'" in README
    assert "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/railcount demo --out-dir docs" in README
    assert "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/python -m pytest" in README


def test_ci_runs_the_linter_the_type_checker_and_every_test():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "ruff check railcount tests" in ci and "\n.venv/bin/mypy" in ci
    run = [line for line in ci.splitlines() if line.startswith(".venv/bin/python -m pytest")]
    assert len(run) == 1 and " -m " not in run[0].split("pytest", 1)[1]  # no marker left out: slow ones run


def test_every_document_the_code_cites_exists():
    cited = set()
    for path in (ROOT / "railcount").rglob("*.py"):
        cited |= set(re.findall(r"docs/[\w./-]+\.md", path.read_text(encoding="utf-8")))
    cited |= set(re.findall(r"\(((?:docs|sample_tiles)/[\w./-]+\.md)\)", README))
    assert "docs/facts.md" in cited
    assert [c for c in sorted(cited) if not (ROOT / c).is_file()] == []
