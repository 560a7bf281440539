"""What the three problems (partition, place, offload) share: outcome, options, time budget, objectives records,
the secondary-objective loop and the CP-SAT plumbing (docs/design.md, "Solving")."""
