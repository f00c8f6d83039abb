"""The Payment service: payment records, their state machine, and the providers behind them."""
