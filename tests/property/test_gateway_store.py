"""The message store against a model (hypothesis RuleBasedStateMachine).

Random sequences of accept / claim / part submit / responses / receipts / cancel / requeue /
recover, including operations that are illegal in the message's current state. After every
step: the store's states equal the model's, illegal operations raised and changed nothing,
and the counters the ops keep equal ``GROUP BY state``.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gateway.errors import IllegalTransitionError
from gateway.store import MessageState, MessageStore, NewMessage, ReceiptStatus

T0 = 1_767_225_600.0
FINAL_STATS = {"DELIVRD": "delivered", "UNDELIV": "undelivered", "EXPIRED": "expired"}


@dataclass
class Model:
    state: MessageState
    parts: int
    due: float
    attempts: int = 0
    part_state: dict[int, str] = field(default_factory=dict)  # seq -> submitting/done/final...
    smsc: dict[int, str] = field(default_factory=dict)


class StoreMachine(RuleBasedStateMachine):
    writer: Literal["thread", "process"] = "thread"

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="store-sm-")
        self.path = Path(self.dir) / "sm.sqlite3"
        self.store = MessageStore(self.path, synchronous="NORMAL", writer=self.writer)
        self.raw = sqlite3.connect(self.path)
        self.now = T0
        self.m: dict[int, Model] = {}
        self.smsc_serial = 0

    def teardown(self) -> None:
        self.raw.close()
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _in(self, *states: MessageState) -> list[int]:
        return [i for i, m in self.m.items() if m.state in states]

    # -- legal traffic ----------------------------------------------------------------------

    @rule(n=st.integers(1, 3), parts=st.integers(1, 3), defer=st.sampled_from([0, 0, 0, 12.5]))
    def accept(self, n: int, parts: int, defer: float) -> None:
        ids = self.store.accept(
            [
                NewMessage(
                    "S",
                    f"090{len(self.m) + k:08d}",
                    "x",
                    parts_total=parts,
                    not_before=self.now + defer if defer > 10 else None,
                )
                for k in range(n)
            ],
            self.now,
        )
        for i in ids:
            deferred = defer > 10
            self.m[i] = Model(
                MessageState.SCHEDULED if deferred else MessageState.QUEUED,
                parts,
                self.now + defer if deferred else self.now,
            )

    @rule(dt=st.floats(0, 15))
    def tick(self, dt: float) -> None:
        self.now += dt

    @rule(limit=st.integers(1, 4))
    def claim(self, limit: int) -> None:
        for i in self._in(MessageState.SCHEDULED):
            if self.m[i].due <= self.now:
                self.m[i].state = MessageState.QUEUED
        expected = sorted(self._in(MessageState.QUEUED))[:limit]
        batch = self.store.claim(self.now, limit)
        assert [c.id for c in batch.messages] == expected
        for c in batch.messages:
            m = self.m[c.id]
            m.state = MessageState.SUBMITTING
            m.attempts += 1
            assert c.attempt == m.attempts
            pending = tuple(s for s in range(1, m.parts + 1) if s not in m.smsc)
            assert c.pending_parts == pending

    @precondition(lambda self: bool(self._in(MessageState.SUBMITTING)))
    @rule(data=st.data())
    def send_parts(self, data: st.DataObject) -> None:
        """Send the pending parts of every claimed message; an error status is RMSGQFUL."""
        for mid in self._in(MessageState.SUBMITTING):
            m = self.m[mid]
            for seq in [s for s in range(1, m.parts + 1) if s not in m.smsc]:
                ok = data.draw(st.sampled_from([True, True, True, False]))
                self.store.record_part_submit(mid, seq, self.now, bind="b", sequence_number=seq)
                if not ok:
                    out = self.store.record_resp(mid, seq, self.now, command_status=0x14)
                    assert out.message_state is MessageState.SUBMITTING
                    retry_at = self.now + 5
                    assert self.store.requeue(mid, self.now, retry_at=retry_at) is (
                        MessageState.SCHEDULED
                    )
                    m.state, m.due = MessageState.SCHEDULED, retry_at
                    break
                self.smsc_serial += 1
                smsc_id = f"ID{self.smsc_serial:06d}"
                out = self.store.record_resp(
                    mid, seq, self.now, command_status=0, smsc_message_id=smsc_id
                )
                m.smsc[seq] = smsc_id
                m.part_state[seq] = "submitted"
                if len(m.smsc) == m.parts:
                    m.state = MessageState.SUBMITTED
                assert out.message_state is m.state

    @precondition(lambda self: any(m.smsc for m in self.m.values()))
    @rule(data=st.data())
    def receipts(self, data: st.DataObject) -> None:
        """Receipts for some parts of one message (duplicates included)."""
        submitted = self._in(MessageState.SUBMITTED)
        with_ids = [i for i, m in self.m.items() if m.smsc]
        mid = data.draw(st.sampled_from(submitted or with_ids))
        m = self.m[mid]
        seqs = data.draw(st.lists(st.sampled_from(sorted(m.smsc)), min_size=1, max_size=4))
        for seq in seqs:
            stat = data.draw(
                st.sampled_from(["DELIVRD", "DELIVRD", "UNDELIV", "EXPIRED", "ENROUTE"])
            )
            out = self.store.record_receipt(m.smsc[seq].lower(), stat, self.now)
            if m.part_state[seq] in FINAL_STATS.values():
                assert out.status is ReceiptStatus.DUPLICATE
            else:
                assert out.status is ReceiptStatus.MATCHED
                m.part_state[seq] = FINAL_STATS.get(stat, "submitted")
            self._aggregate(m)
            assert out.message_state is m.state

    @staticmethod
    def _aggregate(m: Model) -> None:
        finals = [m.part_state.get(s) for s in range(1, m.parts + 1)]
        if m.state is not MessageState.SUBMITTED:
            return
        if not all(f in FINAL_STATS.values() for f in finals):
            return
        if all(f == "delivered" for f in finals):
            m.state = MessageState.DELIVERED
        elif "delivered" in finals:
            m.state = MessageState.PARTIALLY_DELIVERED
        elif all(f == "expired" for f in finals):
            m.state = MessageState.EXPIRED
        else:
            m.state = MessageState.FAILED

    @rule(dice=st.integers(0, 4))
    def recover(self, dice: int) -> None:
        if dice:  # a restart is rarer than traffic
            return
        flying = sorted(self._in(MessageState.SUBMITTING))
        assert self.store.recover(self.now).requeued == tuple(flying)
        for i in flying:
            self.m[i].state, self.m[i].due = MessageState.QUEUED, self.now

    # -- operations that may be illegal -------------------------------------------------------

    @precondition(lambda self: bool(self.m))
    @rule(data=st.data(), dice=st.integers(0, 2))
    def cancel_any(self, data: st.DataObject, dice: int) -> None:
        if dice:
            return
        mid = data.draw(st.sampled_from(sorted(self.m)))
        m = self.m[mid]
        if m.state in (MessageState.QUEUED, MessageState.SCHEDULED):
            self.store.cancel(mid, self.now)
            m.state = MessageState.CANCELLED
        else:
            try:
                self.store.cancel(mid, self.now)
            except IllegalTransitionError:
                return
            raise AssertionError(f"cancel from {m.state} must be illegal")

    @precondition(lambda self: bool(self.m))
    @rule(data=st.data(), dice=st.integers(0, 2))
    def requeue_any(self, data: st.DataObject, dice: int) -> None:
        if dice:
            return
        mid = data.draw(st.sampled_from(sorted(self.m)))
        m = self.m[mid]
        if m.state is MessageState.SUBMITTING:
            assert self.store.requeue(mid, self.now) is MessageState.QUEUED
            m.state, m.due = MessageState.QUEUED, self.now
        else:
            try:
                self.store.requeue(mid, self.now)
            except IllegalTransitionError:
                return
            raise AssertionError(f"requeue from {m.state} must be illegal")

    @precondition(lambda self: bool(self.m))
    @rule(data=st.data(), dice=st.integers(0, 2))
    def fail_any(self, data: st.DataObject, dice: int) -> None:
        if dice:
            return
        mid = data.draw(st.sampled_from(sorted(self.m)))
        m = self.m[mid]
        legal = m.state in (
            MessageState.QUEUED,
            MessageState.SCHEDULED,
            MessageState.SUBMITTING,
            MessageState.SUBMITTED,
        )
        if legal:
            self.store.finalise(mid, MessageState.FAILED, self.now)
            m.state = MessageState.FAILED
        else:
            try:
                self.store.finalise(mid, MessageState.FAILED, self.now)
            except IllegalTransitionError:
                return
            raise AssertionError(f"fail from {m.state} must be illegal")

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def states_match_model(self) -> None:
        rows = dict(self.raw.execute("SELECT id, state FROM messages").fetchall())
        assert rows == {i: m.state.value for i, m in self.m.items()}

    @invariant()
    def counters_match_group_by(self) -> None:
        grouped = dict(self.raw.execute("SELECT state, COUNT(*) FROM messages GROUP BY state"))
        counts = {k.value: v for k, v in self.store.counts().items() if v}
        assert counts == grouped


StoreMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=50, deadline=None)
TestStoreMachine = StoreMachine.TestCase


class ProcessStoreMachine(StoreMachine):
    """The same machine against the writer process (fewer examples: each starts a child)."""

    writer = "process"


ProcessStoreMachine.TestCase.settings = settings(
    max_examples=15, stateful_step_count=50, deadline=None
)
TestProcessStoreMachine = ProcessStoreMachine.TestCase
