"""The wallet: a user's custody balances, deposits, withdrawals and money history."""
