"""Commands that run the hub: serve and demo."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer

from isthmus.cli.common import HomeOption, console, run, settings
from isthmus.logs import configure
from isthmus.settings import Settings


def _settings(
    home: Path | None, host: str | None, gateway_port: int | None, control_port: int | None
) -> Settings:
    base = settings(home)
    updates = {
        k: v
        for k, v in {
            "host": host,
            "gateway_port": gateway_port,
            "control_port": control_port,
        }.items()
        if v is not None
    }
    return base.model_copy(update=updates)


HostOption = typer.Option(
    None, "--host", help="Address the gateway listens on (default 127.0.0.1)."
)
GatewayPort = typer.Option(None, "--gateway-port", help="Gateway port (default 8400).")
ControlPort = typer.Option(None, "--control-port", help="Control plane port (default 8401).")


def serve(
    home: Path | None = HomeOption,
    host: str | None = HostOption,
    gateway_port: int | None = GatewayPort,
    control_port: int | None = ControlPort,
) -> None:
    """Run the hub in embedded mode: gateway and control plane in one process."""
    from isthmus.serve import serve as serve_hub

    s = _settings(home, host, gateway_port, control_port)
    configure(s.log_level, s.log_format)

    async def announce(_hub: object) -> None:
        console.print(
            f"Isthmus is serving: gateway http://{s.host}:{s.gateway_port}  "
            f"control http://{s.control_host}:{s.control_port}/admin/docs",
        )

    run(serve_hub(s, on_ready=announce))


def demo(
    home: Path = typer.Option(Path(".isthmus-demo"), "--home", help="Folder for the demo's state."),
    host: str | None = HostOption,
    gateway_port: int | None = GatewayPort,
    control_port: int | None = ControlPort,
    crm_port: int = typer.Option(8480, "--crm-port", help="Port of the demo CRM system."),
) -> None:
    """Start the demo CRM and the hub, apply the demo project and print a curl to try."""
    from isthmus.demo.run import run_demo

    s = _settings(home, host, gateway_port, control_port)
    configure("warning", s.log_format)
    with contextlib.suppress(KeyboardInterrupt):
        run(run_demo(s, crm_port, lambda text: console.print(text, soft_wrap=True)))
    console.print("Demo stopped.")
