"""Use cases: the only door to the data. Each checks permission and audits."""
