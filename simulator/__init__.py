"""Simulated carrier SMSC. Never imports `gateway` (it must serve any ESME)."""
