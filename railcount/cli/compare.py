"""``railcount compare`` and ``railcount series``: counts across dates and claim checks.

Thin shells over :mod:`railcount.compare`, :mod:`railcount.claims` and
:mod:`railcount.plot`: scan the tiles, put the counts side by side, check a
claim, write the requested files (atomically) and print a report.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import click

from .options import aoi_option, gsd_option

logger = logging.getLogger(__name__)

_SIM_BANNER = "*** SIMULATED imagery: these counts demonstrate the method, they are not evidence about the real site ***"


def _run_scan(tile: str, *, aoi: Any, gsd: float | None, date: str | None):
    from ..scan import scan as run_scan

    logger.info("scanning %s", tile)
    return run_scan(tile, aoi=aoi, gsd=gsd, date=date)


def _check_outputs(*paths: str | None) -> None:
    """Fail before any slow work when an output folder does not exist."""
    from pathlib import Path

    from ..errors import OutputError

    for p in paths:
        if p:
            folder = Path(p).parent
            if not folder.is_dir():
                raise OutputError(f"cannot write {p}: folder {folder} does not exist; create it first")


def _load_claim(claim: str | None):
    if not claim:
        return None
    from ..io import load_claim

    return load_claim(claim)


def _obs_line(label: str, result) -> str:
    from ..compare import format_count

    date = result.date.isoformat() if result.date else "undated   "
    sim = "  [SIMULATED]" if result.simulated else ""
    mode = "ESTIMATE" if result.mode == "estimate" else result.mode
    return f"{label:<7} {date}  {format_count(result)}  {mode}, {result.gsd:.2f} m GSD  {result.source}{sim}"


@click.command()
@click.argument("before")
@click.argument("after")
@click.option("--claim", "claim_src", metavar="FILE|NAME",
              help="Check a claim: a claim TOML file or a bundled claim's name (e.g. tumangang_2023).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Write a PNG of both tiles side by side, every detection outlined.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report to stdout.")
@aoi_option
@gsd_option
@click.option("--before-date", default=None, metavar="YYYY-MM-DD",
              help="Acquisition date of BEFORE, when its tags and name do not give it.")
@click.option("--after-date", default=None, metavar="YYYY-MM-DD",
              help="Acquisition date of AFTER, when its tags and name do not give it.")
def compare(before, after, claim_src, plot_path, as_json, aoi, gsd, before_date, after_date):
    """Compare the railcars in two tiles of one site (BEFORE and AFTER).

    \b
    Prints both counts with their intervals, the change with a conservative
    interval, notes on anything that makes the two not like for like (GSD,
    counting mode, dates), and with --claim one verdict per clause of the
    claim: SUPPORTED, CONTRADICTED or INCONCLUSIVE, with the reason.

    \b
    Examples:
      railcount compare before.tif after.tif
      railcount compare before.tif after.tif --claim tumangang_2023 --plot ba.png
      railcount compare before.tif after.tif --claim my_claim.toml --json
    """
    from ..claims import check_claim
    from ..compare import compare as compare_counts

    _check_outputs(plot_path)
    claim = _load_claim(claim_src)
    res_b = _run_scan(before, aoi=aoi, gsd=gsd, date=before_date)
    res_a = _run_scan(after, aoi=aoi, gsd=gsd, date=after_date)
    cmp = compare_counts(res_b, res_a)
    check = check_claim(claim, [res_b, res_a]) if claim is not None else None

    if plot_path:
        from ..plot import _panel_size, new_figure, plot_before_after, read_for_plot, save_figure

        ras_b, off_b = read_for_plot(before, res_b, aoi=aoi, gsd=gsd)
        ras_a, off_a = read_for_plot(after, res_a, aoi=aoi, gsd=gsd)
        import numpy as np

        w, h = _panel_size(np.shape(ras_a.image)[:2])
        fig, axes = new_figure(ncols=2, figsize=(2 * w, h + 0.4))
        plot_before_after(ras_b, res_b, ras_a, res_a, axes=axes, pixel_offsets=(off_b, off_a))
        save_figure(fig, plot_path)

    if as_json:
        report = {
            "simulated": cmp.simulated,
            "note": _SIM_BANNER.strip("* ") if cmp.simulated else "",
            "before": res_b.summary(),
            "after": res_a.summary(),
            "comparison": cmp.to_dict(),
            "claim_check": check.to_dict() if check is not None else None,
            "plot": str(plot_path) if plot_path else None,
        }
        click.echo(json.dumps(report, indent=1, ensure_ascii=False))
        return

    lines = [_SIM_BANNER] if cmp.simulated else []
    lines += [_obs_line("BEFORE", res_b), _obs_line("AFTER", res_a), f"CHANGE  {cmp.describe()}"]
    lines += [f"note: {n}" for n in cmp.notes]
    if check is not None:
        lines.append(f"claim: {claim.title} ({claim.origin})")
        lines += [v.line() for v in check.verdicts]
    if plot_path:
        lines.append(f"wrote plot: {plot_path}")
    click.echo("\n".join(lines))


@click.command()
@click.argument("tiles", nargs=-1, required=True)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False),
              help="Write the series as CSV (one row per tile, sorted by date).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Write a PNG of the counts against date with their intervals.")
@click.option("--claim", "claim_src", metavar="FILE|NAME",
              help="Check a claim against the series and draw its thresholds and events on the plot.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report to stdout.")
@aoi_option
@gsd_option
def series(tiles, csv_path, plot_path, claim_src, as_json, aoi, gsd):
    """Count the railcars in several TILES of one site and list them by date.

    \b
    Dates come from each tile's tags or file name. Rows whose GSD or counting
    mode differ from the first are flagged: their counts are not like for like.

    \b
    Examples:
      railcount series tiles/*.tif --csv counts.csv --plot counts.png
      railcount series tiles/*.tif --claim tumangang_2023
    """
    from ..claims import check_claim
    from ..compare import comparability_notes, series_table, table_to_csv

    _check_outputs(csv_path, plot_path)
    claim = _load_claim(claim_src)
    results = [_run_scan(t, aoi=aoi, gsd=gsd, date=None) for t in tiles]
    table = series_table(results)
    notes = comparability_notes(results)
    check = check_claim(claim, results) if claim is not None else None
    simulated = any(r.simulated for r in results)

    if csv_path:
        from ..io import atomic_output

        with atomic_output(csv_path) as tmp:
            tmp.write_text(table_to_csv(table), encoding="utf-8")
    if plot_path:
        from ..plot import new_figure, plot_series, save_figure

        fig, ax = new_figure(figsize=(10, 5.5))
        plot_series(results, claim=claim, ax=ax)
        save_figure(fig, plot_path)

    if as_json:
        report = {
            "simulated": simulated,
            "note": _SIM_BANNER.strip("* ") if simulated else "",
            "series": table,
            "notes": list(notes),
            "claim_check": check.to_dict() if check is not None else None,
            "csv": str(csv_path) if csv_path else None,
            "plot": str(plot_path) if plot_path else None,
        }
        click.echo(json.dumps(report, indent=1, ensure_ascii=False))
        return

    lines = [_SIM_BANNER] if simulated else []
    lines.append(f"{'date':<10}  {'count':>5}  {'interval':>9}  {'mode':<10}  {'GSD m':>6}  source")
    for i in range(len(table["date"])):
        interval = f"{table['count_low'][i]}-{table['count_high'][i]}"
        gsd_m = "" if table["gsd_m"][i] is None else f"{table['gsd_m'][i]:.2f}"
        row = (f"{table['date'][i] or 'undated':<10}  {table['count'][i]:>5}  {interval:>9}  "
               f"{table['mode'][i]:<10}  {gsd_m:>6}  {table['source'][i]}")
        if table["note"][i]:
            row += f"  [{table['note'][i]}]"
        lines.append(row)
    lines += [f"note: {n}" for n in notes]
    if check is not None:
        lines.append(f"claim: {claim.title} ({claim.origin})")
        lines += [v.line() for v in check.verdicts]
    for path, what in ((csv_path, "csv"), (plot_path, "plot")):
        if path:
            lines.append(f"wrote {what}: {path}")
    click.echo("\n".join(lines))
