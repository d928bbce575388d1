"""SMS domain core shared by the gateway and the simulator.

Pure: no asyncio, sockets, clock reads or global randomness (the one I/O corner is `sms.bus`).
"""
