"""The Kraken spot dialect of the simulator: REST ``/0/public|private/*`` and WebSocket v2 over the
shared matching engine (``fixgw sim --dialect kraken``). See ``app.py``."""
