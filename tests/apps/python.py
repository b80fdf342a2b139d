#!/usr/bin/python3
"""Application matrix: python as an Arrow, checked with its own client (see apps_cases.py)."""
import apptest

apptest.main("python")
