"""Pure partitioning heuristics on plain networkx graphs. Imports nothing else of nnpart."""
