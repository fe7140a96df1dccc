"""The credit ledger: a pure function of the year's events and the year's plan."""
