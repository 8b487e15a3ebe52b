"""Command line: `serve`, `demo` and `simulate`. Wiring only; the logic lives in the other modules."""

import click

from . import __version__
from .simulator.command import simulate


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="azure-backup-exporter")
def main() -> None:
    """Prometheus exporter for Azure Backup jobs of Recovery Services vaults."""


main.add_command(simulate)
