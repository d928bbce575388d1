"""The ``counters`` table equals ``GROUP BY state`` / ``GROUP BY status`` at every COMMIT.

Schema v4 keeps the counters without triggers: every op notes its own state changes and writes
them (`gateway.store._count`). This drives the real writer with random bursts of operations,
issued in one event-loop pass each so that they share a transaction and the part submits,
responses and receipts of a burst run as group ops (`_op_group`), and checks the invariant
after every burst, from a separate connection (so only committed data counts).

The bursts mix legal and illegal operations: transitions refused by `LEGAL_TRANSITIONS`,
responses without a submit, receipts for unknown ids and duplicates, and "poisoned" SMSC ids
whose normalisation raises a non-store error, which fails the whole group op after some of its
facts have written (the writer then reruns the batch with one savepoint per op and the group is
rolled back). Group ops write their facts' counters once per group (`_batched_counts`), the
other ops once each.
It also checks that ``first_submitted_at`` is set on every message with a part that has an
outcome or that is no longer in flight.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.store import MessageState, MessageStore, NewMessage, default_normalize

T0 = 1_767_225_600.0
POISON = "poison"

#: One operation: (name, a pick among candidates, a small integer parameter).
Action = tuple[str, int, int]

ACTIONS = st.tuples(
    st.sampled_from(
        [
            "flow",
            "flow",
            "flow",
            "flow",
            "accept",
            "claim",
            "submit",
            "submit",
            "resp_ok",
            "resp_ok",
            "resp_err",
            "resp_poison",
            "receipt",
            "receipt",
            "receipt_unknown",
            "receipt_early",
            "receipt_poison",
            "finalise",
            "requeue",
            "release",
            "defer",
            "expire",
            "timeout",
            "sweep",
            "recover",
        ]
    ),
    st.integers(0, 1_000),
    st.integers(0, 3),
)
BURSTS = st.lists(st.lists(ACTIONS, min_size=1, max_size=6), min_size=3, max_size=16)
STATS = ["DELIVRD", "UNDELIV", "REJECTD", "EXPIRED", "ENROUTE"]


def _normalize(smsc_id: str) -> str:
    if smsc_id == POISON:
        raise RuntimeError("poisoned id: fails the whole group op")
    return default_normalize(smsc_id)


def _mismatches(conn: sqlite3.Connection) -> list[tuple[str, str, int, int]]:
    """Counter rows that differ from GROUP BY: (kind, key, counter, actual)."""
    actual = {
        ("message", k): n
        for k, n in conn.execute("SELECT state, COUNT(*) FROM messages GROUP BY state")
    }
    actual.update(
        {
            ("receipt", k): n
            for k, n in conn.execute("SELECT status, COUNT(*) FROM receipts GROUP BY status")
        }
    )
    counters = {(kind, key): n for kind, key, n in conn.execute("SELECT * FROM counters")}
    keys = set(actual) | set(counters)
    return sorted(
        (kind, key, counters.get((kind, key), -1), actual.get((kind, key), 0))
        for kind, key in keys
        if counters.get((kind, key), -1) != actual.get((kind, key), 0)
    )


def _first_submit_unset(conn: sqlite3.Connection) -> list[int]:
    """Messages with a part that has an outcome (a response), or that are no longer in
    flight after a submit, whose first_submitted_at is still NULL."""
    return [
        int(r[0])
        for r in conn.execute(
            "SELECT m.id FROM messages m WHERE m.first_submitted_at IS NULL AND EXISTS"
            " (SELECT 1 FROM parts p WHERE p.message_id = m.id"
            " AND (p.resp_at IS NOT NULL OR m.state != 'submitting'))"
        )
    ]


class _Run:
    """One example: a store, a clock, and the bursts issued against it."""

    def __init__(self, path: Path) -> None:
        self.store = MessageStore(
            path, synchronous="NORMAL", normalize=_normalize, normalize_receipt=_normalize
        )
        self.raw = sqlite3.connect(path)
        self.now = T0
        self.accepted = 0
        self.errors = 0
        self.bursts = 0

    def close(self) -> None:
        self.raw.close()
        self.store.close()

    def _ids(self, *states: MessageState) -> list[int]:
        marks = ",".join("?" * len(states))
        return [
            int(r[0])
            for r in self.raw.execute(
                f"SELECT id FROM messages WHERE state IN ({marks}) ORDER BY id",
                [s.value for s in states],
            )
        ]

    def _pick(self, items: Sequence[Any], pick: int) -> Any:
        return items[pick % len(items)] if items else None

    def _fact(self, on: list[asyncio.Future[Any]]) -> Callable[[Any, BaseException | None], None]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        on.append(fut)

        def done(value: Any, error: BaseException | None) -> None:
            if not fut.done():
                fut.set_result(error)

        return done

    def _flow(
        self,
        stage: int,
        pick: int,
        now: float,
        coros: list[Coroutine[Any, Any, Any]],
        facts: list[asyncio.Future[Any]],
        submitting: list[int],
        in_flight: list[tuple[int, int]],
        with_id: list[tuple[int, int, str]],
    ) -> None:
        aio = self.store.aio
        if stage == 0:
            coros.append(aio.claim(now, 100))
        elif stage == 1:  # every part of every message in flight (some already answered)
            for mid in submitting:
                total = self.raw.execute(
                    "SELECT parts_total FROM messages WHERE id = ?", (mid,)
                ).fetchone()[0]
                for seq in range(1, total + 1):
                    aio.record_part_submit_nowait(mid, seq, now, on_done=self._fact(facts))
                    if (mid + seq + pick) % 3 == 0:  # a receipt before its response
                        aio.record_receipt_nowait(
                            f"S{mid}x{seq}", STATS[pick % 4], now, on_done=self._fact(facts)
                        )
        elif stage == 2 and pick % 5 == 0:  # a restart with parts in flight
            coros.append(aio.recover(now))
        elif stage == 2:
            for mid, seq in in_flight:
                aio.record_resp_nowait(
                    mid,
                    seq,
                    now,
                    command_status=0x14 if (mid + pick) % 7 == 0 else 0,
                    smsc_message_id=f"S{mid}x{seq}",
                    on_done=self._fact(facts),
                )
        else:
            for i, (_mid, _seq, smsc) in enumerate(with_id):
                if (i + pick) % 4:  # some stay without a final receipt: `time_out_receipts`
                    stat = STATS[(i + pick) % len(STATS)]
                    aio.record_receipt_nowait(smsc, stat, now, on_done=self._fact(facts))
            if pick % 2:
                coros.append(aio.time_out_receipts(now, 10.0))

    async def burst(self, actions: list[Action]) -> None:
        """Issue every action of the burst in this loop pass, then wait for all of them."""
        self.now += 7.0
        now = self.now
        aio = self.store.aio
        coros: list[Coroutine[Any, Any, Any]] = []
        facts: list[asyncio.Future[Any]] = []
        all_ids = self._ids(*MessageState)
        submitting = self._ids(MessageState.SUBMITTING)
        parts = self.raw.execute(
            "SELECT message_id, seq, smsc_message_id, state FROM parts ORDER BY message_id, seq"
        ).fetchall()
        in_flight = [(m, s) for m, s, _i, st_ in parts if st_ == "submitting"]
        with_id = [(m, s, i) for m, s, i, _st in parts if i is not None]
        for name, pick, k in actions:
            if name == "flow":  # move everything one stage on, so that long lives happen
                self._flow(k, pick, now, coros, facts, submitting, in_flight, with_id)
            elif name == "accept":
                coros.append(
                    aio.accept(
                        [
                            NewMessage(
                                "S",
                                f"090{self.accepted + j:08d}",
                                "x",
                                parts_total=1 + (pick % 3 == 0) * k,
                                not_before=now + 5 if pick % 4 == 0 else None,
                                validity_deadline=now + 3 if pick % 5 == 0 else None,
                            )
                            for j in range(1 + k)
                        ],
                        now,
                    )
                )
                self.accepted += 1 + k
            elif name == "claim":
                coros.append(aio.claim(now, 1 + k))
            elif name == "submit" and submitting:
                mid = self._pick(submitting, pick)
                aio.record_part_submit_nowait(
                    mid, 1 + k, now, bind="b", sequence_number=pick, on_done=self._fact(facts)
                )
            elif name in ("resp_ok", "resp_err", "resp_poison") and (in_flight or all_ids):
                mid, seq = self._pick(in_flight, pick) or (self._pick(all_ids, pick), 1)
                smsc = {"resp_ok": f"S{mid}x{seq}", "resp_poison": POISON}.get(name)
                aio.record_resp_nowait(
                    mid,
                    seq,
                    now,
                    command_status=0 if smsc else 0x14,
                    smsc_message_id=smsc,
                    on_done=self._fact(facts),
                )
            elif name == "receipt_early" and in_flight:  # before its response (pending)
                mid, seq = self._pick(in_flight, pick)
                aio.record_receipt_nowait(f"S{mid}x{seq}", STATS[k], now, on_done=self._fact(facts))
            elif name in ("receipt", "receipt_unknown", "receipt_poison"):
                hit = self._pick(with_id, pick)
                smsc = (
                    POISON
                    if name == "receipt_poison"
                    else f"S{pick}y"
                    if name == "receipt_unknown" or hit is None
                    else hit[2]
                )
                aio.record_receipt_nowait(smsc, STATS[k], now, on_done=self._fact(facts))
            elif name == "finalise" and all_ids:
                state = [MessageState.FAILED, MessageState.CANCELLED, MessageState.EXPIRED][k % 3]
                coros.append(aio.finalise(self._pick(all_ids, pick), state, now))
            elif name == "requeue" and all_ids:
                coros.append(aio.requeue(self._pick(all_ids, pick), now, retry_at=now + k))
            elif name == "release" and all_ids:
                coros.append(aio.release(self._pick(all_ids, pick), now, until=now + k))
            elif name == "defer" and all_ids:
                coros.append(aio.defer(self._pick(all_ids, pick), now + 3 * k, now))
            elif name == "expire":
                coros.append(aio.expire_overdue(now))
            elif name == "timeout":
                coros.append(aio.time_out_receipts(now, 5.0 * k))
            elif name == "sweep":
                coros.append(aio.sweep_pending(now, 5.0 * k))
            elif name == "recover":
                coros.append(aio.recover(now))
        results = await asyncio.gather(*coros, *facts, return_exceptions=True)
        self.errors += sum(isinstance(r, BaseException) for r in results)
        self.bursts += 1


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(bursts=BURSTS)
def test_counters_equal_group_by_after_every_commit(bursts: list[list[Action]]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="store-counters-"))
    run = _Run(workdir / "c.sqlite3")
    try:

        async def main() -> None:
            for actions in bursts:
                await run.burst(actions)
                assert _mismatches(run.raw) == []
                assert _first_submit_unset(run.raw) == []

        asyncio.run(main())
    finally:
        run.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_poisoned_group_is_rolled_back_with_its_counters(tmp_path: Path) -> None:
    """The failure path the property relies on really happens: a fact that raises a
    non-store error fails its whole group, and the facts before it leave no trace."""
    run = _Run(tmp_path / "p.sqlite3")
    try:

        async def main() -> list[Any]:
            [a, b] = await run.store.aio.accept([NewMessage("S", "0901", "x")] * 2, T0)
            await run.store.aio.claim(T0, 2)
            for mid in (a, b):
                await run.store.aio.record_part_submit(mid, 1, T0)
            facts: list[asyncio.Future[Any]] = []
            run.store.aio.record_resp_nowait(
                a, 1, T0, command_status=0, smsc_message_id="ok", on_done=run._fact(facts)
            )
            run.store.aio.record_resp_nowait(
                b, 1, T0, command_status=0, smsc_message_id=POISON, on_done=run._fact(facts)
            )
            return list(await asyncio.gather(*facts))

        errors = asyncio.run(main())
        assert all(isinstance(e, BaseException) for e in errors), errors
        assert run.store.counts()[MessageState.SUBMITTING] == 2
        assert run.store.counts()[MessageState.SUBMITTED] == 0
        assert _mismatches(run.raw) == []
    finally:
        run.close()
