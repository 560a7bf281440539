"""The search algorithms of backend assignment, one module each (as pymoo keeps them): ``surrogate``, ``nsga2``,
``sampling`` (random), ``hlps``, ``exhaustive`` (brute force). Each has ``run(space, evaluator, settings,
parallel)``; ``solver.assignment.search.ALGORITHMS`` is the table of names."""
