"""`aftercare kb ...`: ingest and search the brand knowledge base."""

import typer

app = typer.Typer(help="Ingest and search the brand knowledge base.", no_args_is_help=True)
