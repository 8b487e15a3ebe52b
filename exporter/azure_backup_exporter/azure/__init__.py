"""The Azure Resource Manager client: credential, retries, paging, errors, request statistics.

It knows nothing about Prometheus: request counts and rate-limit headers are kept in `ApiStats`,
plain data the collector reads.
"""

from .client import ArmClient
from .clouds import CLOUDS, Cloud
from .errors import ArmError, CredentialError
from .stats import ApiStats

__all__ = ["ArmClient", "ArmError", "ApiStats", "CLOUDS", "Cloud", "CredentialError"]
