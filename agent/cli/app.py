"""The `aftercare` command: a Typer app built from sub-apps that call the library."""

from __future__ import annotations

import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before onnxruntime loads anywhere

import typer

from agent.cli import apikey, config_cmd, imports, kb, review, schema
from agent.cli import eval as eval_cmd
from agent.cli import loyalty as loyalty_cmd
from agent.cli import signals as signals_cmd
from agent.cli.common import configure_logging, settings
from agent.cli.demo import demo
from agent.cli.draft import draft, drafts_app
from agent.cli.plan import plan
from agent.cli.report import report
from agent.cli.serve import serve

app = typer.Typer(
    help="Aftercare drafts the messages an online shop sends after a purchase.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(imports.app, name="import")
app.add_typer(kb.app, name="kb")
app.add_typer(schema.app, name="schema")
app.add_typer(config_cmd.app, name="config")
app.add_typer(drafts_app, name="drafts")
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(review.app, name="review")
app.add_typer(apikey.app, name="apikey")
app.command("draft")(draft)
app.command("serve")(serve)
app.command("demo")(demo)
app.add_typer(signals_cmd.app, name="signals")
app.command("plan")(plan)
app.command("report")(report)
app.add_typer(loyalty_cmd.app, name="loyalty")


@app.callback()
def root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level."),
) -> None:
    configure_logging("DEBUG" if verbose else settings().log_level)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
