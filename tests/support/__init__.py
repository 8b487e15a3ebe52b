"""Helpers shared by test suites: real processes (Prometheus, the exporter) driven over loopback HTTP.

Import them with `from support.prometheus import PrometheusServer` once `tests/` is on `sys.path`
(a test folder's `conftest.py` can add it; see `tests/dashboards/conftest.py`).
"""
