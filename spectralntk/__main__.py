"""``python -m spectralntk``."""

from spectralntk.cli import main

main()
