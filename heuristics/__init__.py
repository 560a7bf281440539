"""Pure partitioning heuristics on plain networkx graphs. Imports nothing else of nnpart.

``heuristics.minmax.minmax`` (ONE's MinMax, fixed) and ``heuristics.orders.order_search`` (our search over
topological orders, each split exactly). Not re-exported here: a function named ``minmax`` would hide its module.
"""
