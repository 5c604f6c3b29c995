"""The ``report`` command (``cli.main`` adds it): a solution's HTML report, one file."""

from __future__ import annotations

import click

from .cli_base import output_options


@click.command("report")
@click.option("--solution", required=True, help="The solution (name or ARN) to report on.")
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The HTML file to write (replaced if it exists).")
@output_options
def report_command(pp, solution, output_path):
    """Write a self-contained HTML report on a solution: every version's offline metrics
    against the Popularity-Count baseline, HPO trials, the long tail of recommended items
    and coverage. The file needs no network to view (inline CSS and SVG, no scripts).

    \b
    Example:
        pypersonalize --read-only report --solution picks --output picks.html
    """
    from .report import write_report
    try:
        return write_report(pp, solution, output_path)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output_path}: {exc.strerror or exc}") from None


__all__ = ["report_command"]
