"""Queries and row mapping per aggregate. Only services import these."""
