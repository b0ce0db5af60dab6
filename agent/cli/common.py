"""Helpers shared by the CLI sub-apps: console, settings and exit codes."""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from agent.config import Settings, get_settings

# Exit codes: 0 success, 1 a check or expectation failed, 2 bad usage or input.
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2

console = Console()
error_console = Console(stderr=True)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def settings() -> Settings:
    return get_settings()


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    # soft_wrap keeps paths and commands in the message whole on narrow or piped output.
    error_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
