"""Loans: products, schedules, listings, bidding, repayment."""
