"""Textual operator UI. Sees the system only through `sms.bus` events and control messages."""
