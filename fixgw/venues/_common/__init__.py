"""Machinery shared by venue adapters: signing, rate limiting, server clock, reconnecting WS, tracking."""
