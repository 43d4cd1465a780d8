"""The lending module's Celery tasks (see core.jobs): each takes the tenant's id first."""
from __future__ import annotations

from datetime import date

from core.jobs import celery


@celery.task(name="lending.daily_step")
def daily_step(tenant_id: int, day: str, step: str):
    """One step of the daily run (core.lending.daily.run_step)."""
    from core.lending.daily import run_step

    return run_step(date.fromisoformat(day), step)


@celery.task(name="lending.collect")
def collect(tenant_id: int, day: str, loan_ids: list[int]):
    """Collect due installments of some loans (the daily ``collect`` step spread over workers)."""
    from core.lending.daily import collect as collect_loans

    return collect_loans(date.fromisoformat(day), loan_ids)


@celery.task(name="lending.disburse")
def disburse(tenant_id: int, loan_id: int):
    """Disburse a funded loan (idempotent)."""
    from core.lending.disbursement import disburse as disburse_loan

    return disburse_loan(loan_id).status


@celery.task(name="lending.auto_bid")
def auto_bid(tenant_id: int, loan_id: int):
    """Let auto-bid rules bid on a newly listed loan."""
    from core.lending.bidding import run_auto_bids

    return run_auto_bids(loan_id)
