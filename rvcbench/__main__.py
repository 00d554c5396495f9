"""`python -m rvcbench` is the `rvcbench` command."""

from rvcbench.cli import main

main()
