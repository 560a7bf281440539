"""Offloading to backends: the backend of every op and the parts, for the least end-to-end latency."""
