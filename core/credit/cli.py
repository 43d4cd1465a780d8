"""``lendkit schedule``: the loan calculator on the command line (a built-in plugin's command).

Same rules and same JSON as ``GET /api/v1/calculator``; bad input is one
line on stderr and exit status 2.
"""
from __future__ import annotations

import json
from datetime import date

import click
from marshmallow import ValidationError

from core import hookimpl


def _first_problem(messages: dict) -> str:
    """``{"months": ["must be …"]}`` → ``--months: must be …``."""
    name, problems = next(iter(messages.items()))
    if isinstance(problems, dict):
        return _first_problem(problems)
    problem = problems[0] if isinstance(problems, list) else problems
    return f"--{str(name).replace('_', '-')}: {str(problem).rstrip('.')}"


def _major(amount: int, currency: str) -> str:
    from core.money import from_minor

    return f"{from_minor(amount, currency):,}"


@click.command("schedule")
@click.option("--principal", required=True, metavar="MINOR_UNITS", help="Amount borrowed in minor units (fen, cents).")
@click.option("--annual-rate", required=True, metavar="RATE", help="Annual interest rate as a decimal, e.g. 0.12.")
@click.option("--months", required=True, metavar="N", help="Term in months (1-360).")
@click.option("--method", default="equal_installment", show_default=True, metavar="METHOD",
              help="equal_installment, equal_principal, interest_first or bullet.")
@click.option("--start", metavar="YYYY-MM-DD", help="Loan start date (default today).")
@click.option("--currency", default="CNY", show_default=True, help="Currency of the amounts.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def schedule_command(principal, annual_rate, months, method, start, currency, as_json):
    """Print a loan's repayment schedule and total cost."""
    from core.credit.calculator import CalculatorQuerySchema, calculate, schedule_json
    from core.money import minor_units

    raw = {"principal": principal, "annual_rate": annual_rate, "months": months, "method": method}
    if start is not None:
        raw["start"] = start
    try:
        args = CalculatorQuerySchema().load(raw)
    except ValidationError as err:
        raise click.UsageError(_first_problem(err.messages)) from None
    try:
        minor_units(currency)
    except ValueError:
        raise click.UsageError(f"--currency: unknown currency code {currency!r}") from None
    start_date = args["start"] or date.today()
    schedule = calculate(args["principal"], args["annual_rate"], args["months"], args["method"], start_date)
    if as_json:
        click.echo(json.dumps(schedule_json(schedule, currency, start_date), indent=2))
        return
    click.echo(f"{_major(schedule.principal, currency)} {currency} at {schedule.annual_rate} a year over "
               f"{schedule.months} months, {schedule.method}, from {start_date.isoformat()}")
    header = f"{'no':>4}  {'due':<10}  {'payment':>16}  {'principal':>16}  {'interest':>14}  {'remaining':>16}"
    click.echo(header)
    for i in schedule.installments:
        click.echo(f"{i.number:>4}  {i.due_date.isoformat():<10}  {_major(i.payment, currency):>16}  "
                   f"{_major(i.principal, currency):>16}  {_major(i.interest, currency):>14}  "
                   f"{_major(i.remaining, currency):>16}")
    click.echo(f"total interest {_major(schedule.total_interest, currency)} {currency}; "
               f"total to repay {_major(schedule.total_payment, currency)} {currency}")


@hookimpl
def register_commands(cli):
    cli.add_command(schedule_command)
