"""``railcount demo``: the Tumangang claim checked end to end on the SIMULATED sample tiles.

A thin shell over :func:`railcount.demo.run_demo`; the report lines reuse the
formatting of ``railcount compare``.
"""

from __future__ import annotations

import json

import click

from .formatting import SIM_BANNER, count_line


@click.command()
@click.option("--out-dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder (must exist) for demo_before_after.png and demo.json.")
@click.option("--tiles", "tiles_dir", default=None, type=click.Path(file_okay=False),
              help="Folder holding the sample tiles (default: the repository's sample_tiles/).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON to stdout.")
def demo(out_dir, tiles_dir, as_json):
    """Check the Tumangang claim of October 2023 on the bundled sample tiles.

    \b
    The two sample tiles are SIMULATED stand-ins with known truth (one before
    the Kim-Putin summit of 2023-09-13, one of 2023-10-05): the demo shows the
    method at work, it is not evidence about the real site. It scans both
    tiles, scores each scan against the tile's truth, compares the counts,
    prints the verdict on each clause of the claim with its reason, and writes
    the before/after figure (demo_before_after.png) and a report (demo.json).

    \b
    Examples:
      railcount demo
      railcount demo --out-dir docs
      railcount demo --json
    """
    from ..demo import run_demo

    result = run_demo(out_dir, tiles_dir=tiles_dir)
    if as_json:
        report = result.to_dict()
        report["report"] = str(result.report) if result.report else None
        click.echo(json.dumps(report, indent=1, ensure_ascii=False))
        return

    lines = []
    if result.simulated:
        lines += [SIM_BANNER,
                  "The sample tiles are stand-ins rendered by railcount.synth with known truth; "
                  "they are not imagery of Tumangang."]
    lines.append(f"tiles: {result.tiles.folder}")
    for label, res, truth in (("BEFORE", result.before, result.before_truth),
                              ("AFTER", result.after, result.after_truth)):
        lines.append(count_line(label, res))
        if truth is not None:
            lines.append(f"{'':<7} {'SIMULATED ' if res.simulated else ''}{truth.describe()}")
    lines.append(f"CHANGE  {result.comparison.describe()}")
    lines += [f"note: {n}" for n in result.comparison.notes]
    claim = result.check.claim
    lines.append(f"claim: {claim.title} ({claim.origin})")
    lines += [v.line() for v in result.check.verdicts]
    if result.figure:
        lines.append(f"wrote figure: {result.figure}")
    if result.report:
        lines.append(f"wrote report: {result.report}")
    click.echo("\n".join(lines))
