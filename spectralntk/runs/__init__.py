"""Runs: the computations behind the CLI commands, each returning a result that
knows how to print itself as data and to become a labelled run Dataset."""
