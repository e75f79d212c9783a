"""Shared test setup: the repository's tests import the oracle helpers from tests/oracle.py."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
