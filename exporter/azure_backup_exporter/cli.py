"""Command line: `serve`, `check`, `demo`, `simulate` and `jobs`. Wiring only; the logic lives elsewhere."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click
from azure_backup_simulator.command import simulate

from . import __version__
from .config import OPTIONS, Config, ConfigError, env_name, load_config
from .jobs_cli import make_jobs_group

EXIT_CONFIG = 2


def _param(name: str) -> str:
    return name.replace(".", "_").replace("-", "_")


def _option_decorators(names: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(names):
            option = OPTIONS[name]
            shown = "" if option.default in (None, ()) else f" [default: {option.default}]"
            func = click.option(
                f"--{name}",
                _param(name),
                multiple=option.multiple,
                default=None if not option.multiple else (),
                show_default=False,
                metavar="VALUE",
                help=f"{option.help}{shown} [env: {env_name(name)}]",
            )(func)
        return func

    return decorate


def _load(params: dict[str, Any], require_vaults: bool = True) -> Config:
    flags = {name: params.get(_param(name)) for name in OPTIONS}
    try:
        return load_config(flags, os.environ, require_vaults=require_vaults)
    except ConfigError as error:
        click.echo(f"azure-backup-exporter: {error}", err=True)
        sys.exit(EXIT_CONFIG)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="azure-backup-exporter")
def main() -> None:
    """Prometheus exporter for Azure Backup jobs of Recovery Services vaults."""


@main.command()
@_option_decorators(list(OPTIONS))
def serve(**params: Any) -> None:
    """Serve /metrics for the configured vaults and subscriptions."""
    config = _load(params)
    from .service import Exporter, configure_logging, wait_for_interrupt

    configure_logging(config.log_level, config.log_format)
    exporter = Exporter(config)
    try:
        exporter.start()
    except OSError as error:
        click.echo(f"azure-backup-exporter: --web.listen-address: cannot listen: {error.strerror}", err=True)
        sys.exit(1)
    exporter.warm_up()
    click.echo(
        f"Serving metrics on {exporter.url}/metrics (listening on {exporter.listen_address})", err=True
    )
    wait_for_interrupt()
    exporter.stop()


@main.command()
@_option_decorators(list(OPTIONS))
def check(**params: Any) -> None:
    """Validate the configuration (same options as serve) and exit: 0 if valid, else 2 and one line."""
    config = _load(params)
    web = config.web_config
    click.echo(
        f"configuration OK: {len(config.vaults)} vault(s), {len(config.subscriptions)} subscription(s), "
        f"ARM endpoint {config.arm_endpoint}, lookback {config.lookback_seconds:g}s, "
        f"web: TLS {'on' if web and web.tls else 'off'}, basic auth {'on' if web and web.users else 'off'}"
    )


@main.command()
@_option_decorators(["web.listen-address", "log.level", "log.format"])
@click.option("--seed", type=int, default=1, help="Seed of the simulated estate.")
def demo(seed: int, **params: Any) -> None:
    """Run the simulator and the exporter on it, in one process, until interrupted."""
    from .demo import run_demo

    if params.get("web_listen_address") is None and not os.environ.get(env_name("web.listen-address")):
        params["web_listen_address"] = "127.0.0.1:10091"
    run_demo(seed, lambda: _load(params, require_vaults=False))


main.add_command(simulate)
main.add_command(
    make_jobs_group(_option_decorators, lambda params: _load(params, require_vaults=False)), "jobs"
)
