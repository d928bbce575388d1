"""Pure SMPP 3.4 protocol core (framing, PDU codec, session state machine), sans I/O."""
