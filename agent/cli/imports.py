"""`aftercare import ...`: load customer data into the context store."""

import typer

app = typer.Typer(help="Import customer data into the context store.", no_args_is_help=True)
