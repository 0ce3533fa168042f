"""Execution side: agents, engines and the probes that talk over the network."""
