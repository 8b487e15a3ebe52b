"""azure-backup-exporter: Azure Backup (Recovery Services vault backup jobs) as Prometheus metrics."""

__version__ = "0.1.0"
