"""`aftercare loyalty ...`: store a brand's programme, import or derive its points ledger,
and show a customer's account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agent.cli.common import EXIT_CHECK_FAILED, console, error_console, fail, settings
from agent.cli.signals import AS_OF_HELP, brand_profile, open_engine, parse_as_of, warn_if_old_data
from agent.context.store import ContextStore, CustomerNotFound
from agent.domain import BrandProfile
from agent.loyalty.derive import DeriveReport, derive_ledger
from agent.loyalty.importer import LedgerFileError, LedgerImportReport, import_ledger
from agent.loyalty.ledger import store_program
from agent.loyalty.models import LoyaltyAccount, LoyaltyProgram
from agent.loyalty.program import LoyaltyProgramError, ProgramFile, load_program

app = typer.Typer(
    help="Loyalty programmes: store a brand's programme, import or derive its points ledger, "
    "and show a customer's points and tier.",
    no_args_is_help=True,
)

BrandOption = Annotated[
    str | None, typer.Option("--brand", help="Brand id; the default brand if unset.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _program(profile: BrandProfile) -> ProgramFile:
    families = {family.family_id for family in profile.families}
    try:
        return load_program(settings().kb_dir, profile.brand_id, families=families)
    except LoyaltyProgramError as error:
        fail(str(error))


@app.command("program")
def program(brand: BrandOption = None, json_output: JsonOption = False) -> None:
    """Validate the brand's loyalty.yaml and store it as the programme its ledger is read with."""
    profile = brand_profile(brand)
    program_file = _program(profile)
    engine = open_engine()
    try:
        with engine.begin() as conn:
            store_program(conn, profile.brand_id, program_file)
    finally:
        engine.dispose()
    if json_output:
        typer.echo(program_file.program.model_dump_json(indent=2))
        return
    console.print(f"Stored {program_file.path} for brand {profile.brand_id}", highlight=False)
    _print_program(program_file.program)


def _print_program(loyalty: LoyaltyProgram) -> None:
    earn = loyalty.earn
    expiry = loyalty.points_expiry_months
    console.print(
        f"{loyalty.name}: {earn.points_per_unit} point(s) per {earn.currency}; points expire "
        + (f"{expiry} months after earning" if expiry else "never"),
        highlight=False,
    )
    tiers = Table("tier", "name", "qualifying points", "benefits", title="Tiers")
    for tier in loyalty.tiers:
        tiers.add_row(tier.tier_id, tier.name, f"{tier.min_points:,}", "; ".join(tier.benefits))
    console.print(tiers)
    rewards = Table("reward", "points", "family", "valid from", "valid until", title="Rewards")
    for reward in loyalty.rewards:
        until = str(reward.valid_until) if reward.valid_until else "-"
        rewards.add_row(
            reward.name,
            f"{reward.points_cost:,}",
            reward.family or "any",
            str(reward.valid_from),
            until,
        )
    console.print(rewards)


@app.command("import")
def import_file(
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV or JSON Lines file (plain or gzipped) with customer_id, type, points, at, "
            "reference and, for tier_change, tier."
        ),
    ],
    brand: BrandOption = None,
    json_output: JsonOption = False,
) -> None:
    """Import a points ledger. Importing it again updates its entries instead of adding them."""
    profile = brand_profile(brand)
    program_file = _program(profile)
    engine = open_engine()
    try:
        report = import_ledger(path, engine, brand=profile.brand_id, program_file=program_file)
    except LedgerFileError as error:
        fail(str(error))
    finally:
        engine.dispose()
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
        return
    _print_import(report)


def _print_import(report: LedgerImportReport) -> None:
    console.print(f"Imported {report.path} for brand {report.brand}", highlight=False)
    rows = [
        ("entries", report.entries),
        ("new", report.new),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("customers", report.customers),
        ("customers created", report.customers_created),
        ("derived entries replaced", report.derived_entries_removed),
    ]
    _print_counts(rows, report.seconds)


def _print_counts(rows: list[tuple[str, int]], seconds: float) -> None:
    table = Table(show_header=False)
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    table.add_row("seconds", f"{seconds:.1f}")
    console.print(table)


@app.command("derive")
def derive(
    brand: BrandOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
    json_output: JsonOption = False,
) -> None:
    """Derive points from the stored orders by the brand's earn rule.

    The result is an estimate, marked as derived, for shops without a ledger export.
    Running it again replaces the brand's derived entries.
    """
    moment = parse_as_of(as_of)
    profile = brand_profile(brand)
    program_file = _program(profile)
    engine = open_engine()
    if as_of is None:
        warn_if_old_data(engine, moment)
    try:
        report = derive_ledger(
            engine, brand=profile.brand_id, program_file=program_file, as_of=moment
        )
    finally:
        engine.dispose()
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
        return
    _print_derive(report)


def _print_derive(report: DeriveReport) -> None:
    console.print(
        f"Derived points for brand {report.brand} from orders up to "
        f"{report.as_of:%Y-%m-%d %H:%M %Z}; balances are estimates, not a real ledger",
        highlight=False,
    )
    rows = [
        ("orders read", report.orders),
        ("entries stored", report.entries),
        ("customers", report.customers),
        ("customers with a real ledger (left out)", report.customers_with_real_ledger),
        ("orders earning no whole point", report.orders_below_one_point),
        ("points earned", report.points_earned),
        ("points reversed for cancellations", report.points_reversed),
        ("derived entries replaced", report.replaced_entries),
    ]
    _print_counts(rows, report.seconds)


@app.command("show")
def show(
    customer_id: Annotated[str, typer.Argument(help="Customer id.")],
    brand: BrandOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
    json_output: JsonOption = False,
) -> None:
    """Show a customer's points, tier, expiring points and eligible rewards."""
    moment = parse_as_of(as_of)
    profile = brand_profile(brand)
    engine = open_engine()
    if as_of is None:
        warn_if_old_data(engine, moment)
    try:
        context = ContextStore(engine).load(customer_id, as_of=moment, brand=profile)
    except CustomerNotFound as error:
        fail(str(error))
    finally:
        engine.dispose()
    account = context.loyalty
    if account is None:
        fail(
            f"customer {customer_id!r} has no loyalty ledger for brand {profile.brand_id!r} up "
            f"to {moment:%Y-%m-%d}; import one with `aftercare loyalty import PATH` or derive "
            f"one with `aftercare loyalty derive --brand {profile.brand_id}`",
            EXIT_CHECK_FAILED,
        )
    if json_output:
        typer.echo(json.dumps(account.model_dump(mode="json", exclude={"history"}), indent=2))
        return
    print_account(customer_id, account)


def print_account(customer_id: str, account: LoyaltyAccount) -> None:
    source = "derived from orders (an estimate)" if account.derived else "from the ledger"
    console.print(
        f"Customer {escape(customer_id)}, {escape(account.program)}, as of "
        f"{account.as_of:%Y-%m-%d %H:%M} UTC, {source}",
        highlight=False,
    )
    table = Table(show_header=False)
    table.add_row("balance", f"{account.balance:,} points")
    table.add_row("tier", f"{account.tier_name} ({account.qualifying_points:,} qualifying points)")
    if account.next_tier_name:
        table.add_row(
            "next tier", f"{account.next_tier_name}: {account.points_to_next_tier:,} to go"
        )
    for item in account.expiring:
        table.add_row("expiring", f"{item.points:,} points on {item.expires_at:%Y-%m-%d}")
    if account.expired_points:
        table.add_row("expired unspent", f"{account.expired_points:,} points")
    if account.unmatched_debit:
        table.add_row("debits beyond the balance", f"{account.unmatched_debit:,} points")
    rewards = ", ".join(f"{r.name} ({r.points_cost:,})" for r in account.eligible_rewards)
    table.add_row("eligible rewards", rewards or "none")
    console.print(table)
    if account.derived:
        error_console.print(
            "note: derived balances apply the earn rule to past orders; they are not the "
            "loyalty platform's ledger",
            highlight=False,
        )
