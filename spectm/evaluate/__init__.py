"""Evaluation, one idea per module: the downstream protocol, baselines, reconstruction, trust.

Import the submodule you need (``from spectm.evaluate import protocol``); nothing heavy is imported here.
"""
