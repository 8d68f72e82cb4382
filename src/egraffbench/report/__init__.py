"""Leaderboards and reports from benchmark results."""
