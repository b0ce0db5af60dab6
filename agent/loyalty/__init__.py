"""Loyalty programmes: programme files, the points ledger, importers and customer accounts.

This package's `__init__` imports nothing, because `agent.domain` imports
`agent.loyalty.models` and the other modules here import `agent.domain`.
"""
