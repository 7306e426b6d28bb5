"""Loopback test servers (SeaweedFS, credential endpoint stand-ins, a fault proxy)."""
