"""Usage metering and chargeback: what each account's functions used, per day, and what it costs."""
