#!/usr/bin/python3
"""Application matrix: redis as an Arrow, checked with its own client (see apps_cases.py)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import apptest  # noqa: E402

apptest.main("redis")
