"""The local target: tenants as supervised processes on this machine."""
