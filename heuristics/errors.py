"""The heuristics' own error type (heuristics/ imports nothing of nnpart)."""


class HeuristicError(ValueError):
    """Invalid arguments to a heuristic (e.g. more parts than operators)."""

    exit_code = 2
