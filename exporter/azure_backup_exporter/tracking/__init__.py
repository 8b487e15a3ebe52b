"""Tracking jobs by hand (`azure-backup-exporter jobs list|show|watch`): the person's view of what the
exporter watches, with the same ARM client and job parser.

`views.py` turns ARM JSON into values (pure), `operations.py` reads operation URLs and statuses (pure),
`fetch.py` asks ARM (many vaults at once), `follow.py` polls an operation and then its job until it
ends, and `present.py` writes tables, details, live frames and log lines. Nothing here writes to Azure.
"""
