"""AT protocol: reply-line recognition (parser) and the one-command-in-flight channel."""

from modemfarm.at.channel import AtChannel, AtDisconnected, AtError, AtResponse, AtTimeout, Urc

__all__ = ["AtChannel", "AtDisconnected", "AtError", "AtResponse", "AtTimeout", "Urc"]
