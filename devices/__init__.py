"""Where a model runs and is measured: local onert, ssh, sdb and lookup dumps. Imports nothing else of nnpart."""
