"""Helpers shared by test suites: real processes driven over loopback HTTP.

- `support.prometheus`: `PrometheusServer` (a real `/usr/bin/prometheus` on a free port with a generated
  config, rule files and Alertmanager targets; `query`, `query_range`, `wait_for`, `wait_for_targets_up`,
  `wait_for_scrapes`, `rules`, `alerts`; always cleaned up) and `ScrapeJob`.
- `support.exporter`: `ExporterProcess` (`azure-backup-exporter serve` as a subprocess on port 0, the port
  read from its "Serving metrics on" line, e.g. `ExporterProcess.for_simulator(sim, vaults=[...])`;
  `address`, `metrics()`, `output()`).
- `support.promql`: `selectors(expr)`, the metric names, matchers, enclosing functions and ranges of a
  PromQL expression (Grafana variables allowed).
- `support.alertmanager`: `AlertmanagerServer` (a real `/usr/bin/prometheus-alertmanager` on a free port
  with a given configuration, no clustering; `address`, `url`, `alerts()`), `derive_alertmanager_config()`
  (the shipped `alerts/alertmanager.example.yml` with its webhook URLs and waits replaced) and
  `EXAMPLE_CONFIG`.
- `support.webhook`: `WebhookReceiver` (an Alertmanager webhook receiver on a free port, in the test's
  process; `url(path)`, `alerts()`, `wait_for(predicate, timeout, what)`) and `ReceivedAlert`.
- `support.net`: `free_port()`, `wait_until()`.
- `support.process`: `LoopbackProcess`, the life cycle the server classes above share: `address`, `url`,
  a log file, SIGTERM then SIGKILL, `stop()`, `with`.

Import them as `from support.prometheus import PrometheusServer` once `tests/` is on `sys.path`: a test
folder with an `__init__.py` gets that from pytest; one without adds it in its `conftest.py` (see
`tests/dashboards/conftest.py`).
"""
