"""Kept for ``solver/placement/offload.py`` until it moves to its own room: the CP-SAT plumbing is
:mod:`solver.solving.cpsat`. Nothing else imports this module."""

from solver.solving.cpsat import solve_reporting

__all__ = ["solve_reporting"]
