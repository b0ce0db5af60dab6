"""Offline evals: a golden set of cases, scorers, stored runs, baseline comparison and reports."""
