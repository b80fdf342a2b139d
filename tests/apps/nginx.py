#!/usr/bin/python3
"""Application matrix: nginx as an Arrow, checked with its own client (see apps_cases.py)."""
import apptest

apptest.main("nginx")
