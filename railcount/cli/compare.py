"""``railcount compare`` and ``railcount series``: counts across dates and claim checks.

Thin shells over :mod:`railcount.compare`, :mod:`railcount.claims` and
:mod:`railcount.plot`: scan the tiles, put the counts side by side, check a
claim, write the requested files (atomically) and print a report.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from .formatting import SIM_BANNER, count_line
from .options import aoi_option, gsd_option

logger = logging.getLogger(__name__)


def _run_scan(tile: str, *, aoi: Any, gsd: float | None, date: str | None) -> Any:
    from ..scan import scan as run_scan

    logger.info("scanning %s", tile)
    return run_scan(tile, aoi=aoi, gsd=gsd, date=date)


def _load_claim(claim: str | None) -> Any:
    if not claim:
        return None
    from ..catalog import load_claim

    return load_claim(claim)


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
    from .. import io
    from ..claims import check_claim
    from ..compare import compare as compare_counts

    claim = _load_claim(claim_src)
    with io.atomic_outputs(plot_path) as (tmp_plot,):
        res_b = _run_scan(before, aoi=aoi, gsd=gsd, date=before_date)
        res_a = _run_scan(after, aoi=aoi, gsd=gsd, date=after_date)
        cmp = compare_counts(res_b, res_a)
        check = check_claim(claim, [res_b, res_a]) if claim is not None else None
        if tmp_plot is not None:
            from ..figures import save_before_after

            save_before_after(tmp_plot, (before, res_b), (after, res_a), cmp, aoi=aoi, gsd=gsd)

    if as_json:
        report = {
            "simulated": cmp.simulated,
            "note": SIM_BANNER.strip("* ") if cmp.simulated else "",
            "before": res_b.summary(),
            "after": res_a.summary(),
            "comparison": cmp.to_dict(),
            "claim_check": check.to_dict() if check is not None else None,
            "plot": str(plot_path) if plot_path else None,
        }
        click.echo(json.dumps(report, indent=1, ensure_ascii=False))
        return

    lines = [SIM_BANNER] if cmp.simulated else []
    lines += [count_line("BEFORE", res_b), count_line("AFTER", res_a), f"CHANGE  {cmp.describe()}"]
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
    Dates come from each tile's tags or file name (e.g. yard_2023-10-05.tif);
    undated tiles are listed last, by name, with a note, and left out of the
    plot (a plot needs at least one dated tile). Rows whose GSD or counting
    mode differ from the first are flagged: their counts are not like for like.

    \b
    Examples:
      railcount series tiles/*.tif --csv counts.csv --plot counts.png
      railcount series tiles/*.tif --claim tumangang_2023
    """
    from .. import io
    from ..claims import check_claim
    from ..compare import comparability_notes, series_table, table_to_csv

    claim = _load_claim(claim_src)
    with io.atomic_outputs(csv_path, plot_path) as (tmp_csv, tmp_plot):
        results = [_run_scan(t, aoi=aoi, gsd=gsd, date=None) for t in tiles]
        if plot_path and not any(r.date for r in results):
            from ..errors import InputError

            raise InputError(f"--plot draws counts against date, but none of the {len(tiles)} tiles has an "
                             "acquisition date; put it in the file name (e.g. yard_2023-10-05.tif) or in its "
                             "ACQUISITION_DATE tag, or leave out --plot")
        table = series_table(results)
        notes = comparability_notes(results)
        check = check_claim(claim, results) if claim is not None else None
        if tmp_csv is not None:
            io.write_text(tmp_csv, table_to_csv(table))
        if tmp_plot is not None:
            from ..figures import save_series

            save_series(tmp_plot, results, claim=claim)
    simulated = any(r.simulated for r in results)
    undated = [r for r in results if r.date is None]
    if plot_path and undated:
        notes += (f"left out of the plot, no date: {', '.join(Path(r.source).name for r in undated)}",)

    if as_json:
        report = {
            "simulated": simulated,
            "note": SIM_BANNER.strip("* ") if simulated else "",
            "series": table,
            "notes": list(notes),
            "claim_check": check.to_dict() if check is not None else None,
            "csv": str(csv_path) if csv_path else None,
            "plot": str(plot_path) if plot_path else None,
        }
        click.echo(json.dumps(report, indent=1, ensure_ascii=False))
        return

    lines = [SIM_BANNER] if simulated else []
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
