"""SMPP client gateway (ESME) built on aiosmpplib through its extension points."""
