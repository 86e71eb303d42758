"""The budgeted-training benchmark: workloads, one-trial runner, sweeps, SQLite store, report."""
