"""What the alert rules and the dashboards share: `mixin.vocabulary`, read by `alerts/build.py` and
`dashboards/build.py`, so that a selector or threshold is changed in one place for both."""
