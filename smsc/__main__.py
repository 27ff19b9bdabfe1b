"""`python -m smsc ...` is the same as the `smsc` command."""

from smsc.cli import main

main()
