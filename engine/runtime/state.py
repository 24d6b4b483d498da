"""Instance state: live tokens, scope instances with their variables, and pending waits.

Nothing here is history: a token that ended, a task that was completed or a flow that was
taken leaves no trace in the state (the audit effects carry the history). The state is
mutable inside one `runtime.handle` call, which works on its own copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = 1

# Token states.
READY = "ready"  # queued: about to execute the node it stands on
WAIT = "wait"  # resting: user task, job, catch event, event-based gateway
JOIN = "join"  # resting at a converging parallel or inclusive gateway
SUB = "sub"  # resting on a subprocess while its child scope instance runs
RESET = "reset"  # a complex gateway that fired, absorbing the rest of its wave
LOOP = "loop"  # queued: about to run the next iteration of a standard loop (never stored)
INCIDENT = "incident"  # stuck: an expression or script failed; an admin must act

# Instance status.
ACTIVE = "active"
COMPLETED = "completed"
CANCELLED = "cancelled"

# Wait kinds and roles.
TASK = "task"
JOB = "job"
TIMER = "timer"
MESSAGE = "message"
SIGNAL = "signal"
CONDITION = "condition"  # a conditional event: evaluated by the runtime, no row outside
CALL = "call"  # a call activity waits for its child instance (its id is the call id)
OWN = "own"  # the token's own node waits (user task, receive task, catch event, job)
BOUNDARY = "boundary"  # a boundary event of the activity the token stands on
GATEWAY = "gateway"  # an event after the event-based gateway the token stands on
# The start event of an event subprocess; such a wait belongs to a scope instance, not to a
# token: its `token` field holds the scope instance id (ids never collide, one counter).
EVENT_SUB = "eventsub"
ASYNC_BEFORE = "before"  # an asyncBefore job: the token has not entered its node yet
ASYNC_AFTER = "after"  # an asyncAfter job: the node is done, the token has not left yet
RESUMED = "resumed"  # queued: its asyncBefore job ran, it enters the node now (never stored)


@dataclass(slots=True)
class Token:
    id: int
    node: str
    scope: int
    flow: str | None = None  # the flow it arrived by (joins count per incoming flow)
    state: str = READY
    waits: list[int] = field(default_factory=list)
    locals: dict[str, object] | None = None  # the activity's input-mapped variables
    child: int | None = None  # the scope instance of the subprocess it stands on

    def copy(self) -> Token:
        return Token(self.id, self.node, self.scope, self.flow, self.state, list(self.waits),
                     None if self.locals is None else dict(self.locals), self.child)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"i": self.id, "n": self.node, "s": self.scope}
        if self.flow is not None:
            out["f"] = self.flow
        if self.state != WAIT:
            out["st"] = self.state
        if self.waits:
            out["w"] = self.waits
        if self.locals is not None:
            out["l"] = self.locals
        if self.child is not None:
            out["c"] = self.child
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Token:
        # Containers are copied: a step may change the state in place (handle(owned=True))
        # and must never reach into the JSON it was read from.
        local = d.get("l")
        return cls(d["i"], d["n"], d["s"], d.get("f"), d.get("st", WAIT), list(d.get("w", ())),
                   None if local is None else dict(local), d.get("c"))


@dataclass(slots=True)
class ScopeInstance:
    """The process instance itself or one run of an embedded subprocess."""

    id: int
    element: str  # process id or subprocess id
    parent: int | None = None
    token: int | None = None  # the token on the subprocess in the parent scope instance
    variables: dict[str, object] = field(default_factory=dict)
    tokens: dict[int, None] = field(default_factory=dict)  # index, rebuilt on load
    waits: list[int] = field(default_factory=list)  # its event subprocesses' start events
    # Compensation (engine/runtime/compensation.py): "done" lists the completed activity
    # instances of this scope instance that have a compensation handler; a compensation
    # run also holds "todo" (still to compensate), "then" and "cur". None: nothing yet.
    compensation: dict[str, Any] | None = None

    def copy(self) -> ScopeInstance:
        # The records inside are never changed in place, only the lists holding them.
        comp = None if self.compensation is None else {
            k: list(v) if isinstance(v, list) else v for k, v in self.compensation.items()}
        return ScopeInstance(self.id, self.element, self.parent, self.token,
                             dict(self.variables), dict(self.tokens), list(self.waits), comp)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"i": self.id, "e": self.element}
        if self.parent is not None:
            out["p"] = self.parent
            out["t"] = self.token
        if self.variables:
            out["v"] = self.variables
        if self.waits:
            out["w"] = self.waits
        if self.compensation:
            out["cp"] = self.compensation
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ScopeInstance:
        comp = d.get("cp")
        if comp is not None:
            comp = {k: list(v) if isinstance(v, list) else v for k, v in comp.items()}
        return cls(d["i"], d["e"], d.get("p"), d.get("t"), dict(d.get("v", {})), {},
                   list(d.get("w", ())), comp)


@dataclass(slots=True)
class Wait:
    """Something outside the state that a token waits for: a user task, a job (service or
    timer) or a message/signal subscription. Its id is the id of that task/job/subscription."""

    id: int
    kind: str
    token: int
    element: str  # the node that reacts: the token's node, a boundary event or a gateway target
    role: str = OWN
    name: str | None = None  # message or signal name
    due: str | None = None  # timer: ISO instant it is due
    timer: str | None = None  # timer: "<kind>:<evaluated text>", to schedule repetitions
    fired: int = 0  # timer: how many times this timer (cycle) has fired before
    flows: list[str] | None = None  # asyncAfter: the flows the token leaves by afterwards
    holds: bool = False  # conditional: its condition held when last evaluated

    def copy(self) -> Wait:
        return Wait(self.id, self.kind, self.token, self.element, self.role, self.name,
                    self.due, self.timer, self.fired,
                    None if self.flows is None else list(self.flows), self.holds)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"i": self.id, "k": self.kind, "t": self.token, "e": self.element}
        if self.role != OWN:
            out["r"] = self.role
        for key, value in (("n", self.name), ("d", self.due), ("tm", self.timer)):
            if value is not None:
                out[key] = value
        if self.fired:
            out["x"] = self.fired
        if self.flows is not None:
            out["fl"] = self.flows
        if self.holds:
            out["h"] = True
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Wait:
        flows = d.get("fl")
        return cls(d["i"], d["k"], d["t"], d["e"], d.get("r", OWN), d.get("n"), d.get("d"),
                   d.get("tm"), d.get("x", 0), None if flows is None else list(flows),
                   bool(d.get("h", False)))


@dataclass(slots=True)
class InstanceState:
    """Everything one process instance needs to go on; nothing about where it has been."""

    process_id: str
    status: str = ACTIVE
    business_key: str | None = None
    next_id: int = 1
    tokens: dict[int, Token] = field(default_factory=dict)
    scopes: dict[int, ScopeInstance] = field(default_factory=dict)
    waits: dict[int, Wait] = field(default_factory=dict)
    # Set when a call activity started this instance: the call id in the caller. A BPMN
    # error or escalation nothing here catches is then thrown out to the caller.
    call: int | None = None

    def allocate(self) -> int:
        """Ids of tokens, scope instances, tasks, jobs and subscriptions: one counter, so
        every id is unique in the instance and the same run allocates the same ids."""
        value = self.next_id
        self.next_id += 1
        return value

    @property
    def root(self) -> ScopeInstance:
        return self.scopes[min(self.scopes)] if self.scopes else ScopeInstance(0, self.process_id)

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED

    @property
    def variables(self) -> dict[str, object]:
        """The process (root scope) variables."""
        return self.root.variables if self.scopes else {}

    def copy(self) -> InstanceState:
        """A copy a step may change freely. Variable values are shared, not copied: the
        runtime never changes a value in place, it only replaces it."""
        return InstanceState(
            self.process_id, self.status, self.business_key, self.next_id,
            {k: t.copy() for k, t in self.tokens.items()},
            {k: s.copy() for k, s in self.scopes.items()},
            {k: w.copy() for k, w in self.waits.items()}, self.call)

    def to_json(self) -> dict[str, Any]:
        """Compact JSON-compatible dict; `InstanceState.from_json` reads it back losslessly."""
        out: dict[str, Any] = {"v": FORMAT_VERSION, "p": self.process_id, "st": self.status,
                               "n": self.next_id}
        if self.business_key is not None:
            out["bk"] = self.business_key
        if self.call is not None:
            out["cl"] = self.call
        out["s"] = [s.to_json() for s in self.scopes.values()]
        if self.tokens:
            out["t"] = [t.to_json() for t in self.tokens.values()]
        if self.waits:
            out["w"] = [w.to_json() for w in self.waits.values()]
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> InstanceState:
        if d.get("v") != FORMAT_VERSION:
            raise ValueError(f"unknown instance state format {d.get('v')!r}")
        state = cls(d["p"], d.get("st", ACTIVE), d.get("bk"), d["n"], call=d.get("cl"))
        for raw in d.get("s", ()):
            scope = ScopeInstance.from_json(raw)
            state.scopes[scope.id] = scope
        for raw in d.get("t", ()):
            token = Token.from_json(raw)
            state.tokens[token.id] = token
            state.scopes[token.scope].tokens[token.id] = None
        for raw in d.get("w", ()):
            wait = Wait.from_json(raw)
            state.waits[wait.id] = wait
        return state
