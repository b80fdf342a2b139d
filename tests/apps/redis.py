#!/usr/bin/python3
"""Application matrix: redis as an Arrow, checked with its own client (see apps_cases.py)."""
import apptest

apptest.main("redis")
