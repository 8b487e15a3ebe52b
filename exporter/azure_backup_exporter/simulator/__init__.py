"""A local stand-in for the Azure Recovery Services backup-jobs API."""
