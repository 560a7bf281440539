"""Pure partitioning heuristics on op DAGs. Imports nothing else of nnpart.

``heuristics.dag`` holds the validated instance every partitioner and the checker share (``Dag.from_graph``),
the one part-count check and the one lower bound; ``heuristics.minmax.minmax`` (ONE's MinMax, fixed) and
``heuristics.orders.order_search`` (our search over topological orders, each split exactly) take a networkx
graph or a ``Dag``. Not re-exported here: a function named ``minmax`` would hide its module.
"""
