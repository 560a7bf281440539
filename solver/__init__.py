"""nnpart: solver-backed partitioning and backend assignment for neural-network models."""

__version__ = "0.1.0"
