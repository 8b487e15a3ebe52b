"""The `simulate` command (being written)."""

import click


@click.command()
def simulate() -> None:
    """Serve a simulated Azure Recovery Services API."""
    raise click.ClickException("not implemented yet")
