"""Child process for the kill -9 test: accept messages forever, print each id once committed.

Usage: ``python kill9_child.py DB_PATH SYNCHRONOUS``. Every line on stdout is the id of a
message whose accept future has resolved; the parent SIGKILLs this process at some point and
checks that every printed id is in the database.
"""

from __future__ import annotations

import asyncio
import sys

from gateway.store import MessageStore, NewMessage

WORKERS = 32


async def main(path: str, synchronous: str) -> None:
    store = MessageStore(path, synchronous="FULL" if synchronous == "FULL" else "NORMAL")
    out = sys.stdout

    async def worker(n: int) -> None:
        i = 0
        while True:
            i += 1
            message = NewMessage("KILL9", f"090{n:04d}{i:04d}", f"message {n}/{i}")
            [mid] = await store.aio.accept([message], 1_767_225_600.0)
            out.write(f"{mid}\n")
            out.flush()

    await asyncio.gather(*(worker(n) for n in range(WORKERS)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
