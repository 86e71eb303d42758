"""The budgeted-training benchmark's core: workloads, one trial, the SQLite store and sweeps."""
