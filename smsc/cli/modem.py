"""`smsc` sub-commands: modem (being written)."""

commands: list = []
