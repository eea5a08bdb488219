"""Machinery shared by venue adapters: signing, rate limiting, server clock, reconnecting WS, tracking,
unknown outcomes, local refusals, REST error translation, and the lifecycle of feed-driven adapters."""
