"""Peer tools measured side by side with sms-harness: Kannel, node-smpp, python-smpplib.

Each module installs what it needs (apt-get / npm, idempotently), runs on loopback only, stops
by itself, and prints one JSON line of figures. See bench/README.md.
"""
