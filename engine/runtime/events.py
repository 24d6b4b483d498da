"""Events: start, end, intermediate and boundary events; timers, errors and escalations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bpmn.expr.values import format_duration
from bpmn.model import Trigger
from bpmn.timers import TimerError, TimerKind, TimerSpec, parse_timer
from engine.runtime import compile as c
from engine.runtime import effects as fx
from engine.runtime import state as st
from engine.runtime.variables import snapshot, to_json_value

if TYPE_CHECKING:
    from engine.runtime.machine import Run

_SUBSCRIPTION = {Trigger.MESSAGE: st.MESSAGE, Trigger.SIGNAL: st.SIGNAL}


def _stuck(message: str) -> Exception:
    from engine.runtime.machine import Stuck

    return Stuck(message)


# ---------------------------------------------------------------------- node behaviours


def start_event(run: Run, token: st.Token, node: c.Node) -> None:
    kind = fx.AuditKind.EVENT_PASSED if node.trigger is Trigger.NONE else \
        fx.AuditKind.EVENT_CAUGHT
    run.audit(kind, node.id, token=token.id, trigger=str(node.trigger))
    run.leave(token, run.select_outgoing(token, node))


def catch_event(run: Run, token: st.Token, node: c.Node) -> None:
    if node.trigger is Trigger.LINK:
        run.audit(fx.AuditKind.EVENT_PASSED, node.id, token=token.id, trigger="link")
        run.leave(token, run.select_outgoing(token, node))
        return
    token.state = st.WAIT
    run.audit(fx.AuditKind.EVENT_WAITING, node.id, token=token.id, trigger=str(node.trigger))
    arm_catch(run, token, node, st.OWN)


def boundary_event(run: Run, token: st.Token, node: c.Node) -> None:
    """A token created on a boundary event by fire_boundary or an error/escalation."""
    run.leave(token, run.select_outgoing(token, node))


def throw_event(run: Run, token: st.Token, node: c.Node) -> None:
    trigger = node.trigger
    if trigger is Trigger.LINK and node.link_target is not None:
        # A link is a jump within the scope: the token continues at the catch of that name.
        run.audit(fx.AuditKind.EVENT_THROWN, node.id, token=token.id, trigger="link",
                  target=node.link_target)
        token.node, token.flow, token.state = node.link_target, None, st.READY
        run.queue.append(token.id)
        run.dirty.add(token.scope)
        return
    if trigger is Trigger.COMPENSATE:
        from engine.runtime.compensation import LEAVE, throw

        throw(run, token, node, LEAVE)  # the token leaves when the handlers are done
        return
    if node.job_kind is not None:
        send_job(run, token, node)  # the token goes on when the job is done
        return
    if node.multiple is not None:
        from engine.runtime.multiple import throw as throw_all

        throw_all(run, token, node)  # every definition is thrown (§10.5.1)
    elif trigger is Trigger.NONE:
        run.audit(fx.AuditKind.EVENT_PASSED, node.id, token=token.id, trigger="none")
    elif trigger is Trigger.ESCALATION:
        throw_escalation(run, token, node)
        if token.id not in run.state.tokens:
            return  # an interrupting catcher cancelled the scope the throw was in
    else:
        _send(run, token, node)
    run.leave(token, run.select_outgoing(token, node))


def end_event(run: Run, token: st.Token, node: c.Node) -> None:
    trigger = node.trigger
    if trigger is Trigger.TERMINATE:
        terminate(run, token, node)
        return
    if trigger is Trigger.COMPENSATE:
        from engine.runtime.compensation import END, throw

        throw(run, token, node, END)  # the token ends when the handlers are done
        return
    if trigger is Trigger.CANCEL:
        from engine.runtime.transaction import cancel_end

        cancel_end(run, token, node)
        return
    if trigger is Trigger.ERROR:
        run.audit(fx.AuditKind.EVENT_THROWN, node.id, token=token.id, trigger="error",
                  code=node.code.code if node.code else None)
        throw_error(run, token, node.code or c.ThrowCode(None, None), None,
                    from_activity=False)
        return
    if node.job_kind is not None:
        send_job(run, token, node)  # the token ends when the job is done
        return
    if node.multiple is not None:
        from engine.runtime.multiple import throw as throw_all

        throw_all(run, token, node)  # every definition is thrown (§10.5.1)
    elif trigger is Trigger.ESCALATION:
        throw_escalation(run, token, node)
        if token.id not in run.state.tokens:
            return
    elif trigger is Trigger.NONE:
        run.audit(fx.AuditKind.EVENT_PASSED, node.id, token=token.id, trigger="none")
    else:
        _send(run, token, node)
    run.end_token(token)


def _send(run: Run, token: st.Token, node: c.Node) -> None:
    """Message and signal throw/end events leave as effects. A signal reaches catchers of
    this same instance too, but only through the shell, which delivers it back as a
    SignalReceived in a later step (one trigger = one transaction)."""
    name = run.value(node.name_text, token)
    name = None if name is None else str(name)
    variables = snapshot(run.state, token)
    if node.trigger is Trigger.MESSAGE:
        run.emit(fx.SendMessage(name, variables, node.id))
    elif node.trigger is Trigger.SIGNAL:
        # camunda:async="true": Camunda 7 delivers the signal in a job of its own after the
        # thrower's transaction; the thrower goes on at once either way.
        run.emit(fx.ThrowSignal(name, variables, node.async_signal, node.id))
    if node.async_signal:
        run.audit(fx.AuditKind.EVENT_THROWN, node.id, token=token.id,
                  trigger=str(node.trigger), name=name, asynchronous=True)
        return
    run.audit(fx.AuditKind.EVENT_THROWN, node.id, token=token.id, trigger=str(node.trigger),
              name=name)


def send_job(run: Run, token: st.Token, node: c.Node) -> None:
    """A message throw or end event with an implementation (compile.send_job): like a
    send task, the token waits for a "send" job with the same payload, which a registered
    handler or an outside worker (by topic) does. Input mappings (Zeebe ioMapping, Camunda
    inputOutput) are local variables of the event while it waits, as for a task."""
    token.state = st.WAIT
    if node.inputs:
        local: dict[str, object] = {}
        token.locals = local
        for mapping in node.inputs:
            local[mapping.target] = run.mapped(mapping, token)
    name = run.value(node.name_text, token)
    wait = run.new_wait(token, st.JOB, node.id, st.OWN)
    run.audit(fx.AuditKind.EVENT_WAITING, node.id, token=token.id, trigger=str(node.trigger),
              name=None if name is None else str(name), job=wait.id)
    payload = dict(node.job_payload)
    payload["variables"] = snapshot(run.state, token)
    run.emit(fx.ScheduleJob(wait.id, node.job_kind or "send", node.id, None, payload))


def send_job_done(run: Run, token: st.Token, node: c.Node,
                  variables: Mapping[str, object]) -> None:
    """The send job of a throw or end event is done: the handler's variables are set (as a
    task's result), output mappings applied, and the token leaves (an end event ends it)."""
    if variables:
        run.set_variables(token, variables, node.id)
    outputs = [(m.target, run.mapped(m, token)) for m in node.outputs]
    token.locals = None
    if outputs:
        outer = st.Token(0, node.id, token.scope)  # outputs go to the enclosing scope
        for name, value in outputs:
            run.set_variable(outer, name, value, node.id)
    thrown = run.value(node.name_text, token)
    run.audit(fx.AuditKind.EVENT_THROWN, node.id, token=token.id, trigger=str(node.trigger),
              name=None if thrown is None else str(thrown))
    if node.behaviour == c.END:
        run.end_token(token)
        return
    run.leave(token, run.select_outgoing(token, node))


def terminate(run: Run, token: st.Token, node: c.Node) -> None:
    """Terminate end event: ends its scope instance at once, cancelling every token, task,
    job and subscription in it; in a subprocess only that subprocess instance ends, and it
    then completes normally (BPMN 2.0.2 §10.5.3, Camunda 7)."""
    scope_id = token.scope
    run.audit(fx.AuditKind.EVENT_THROWN, node.id, token=token.id, trigger="terminate")
    run.remove_token(token)
    run.cancel_scope(scope_id, f"terminated by {node.id}")
    run.complete_scope(run.state.scopes[scope_id], terminated=True)


# ---------------------------------------------------------------------- arming waits


def arm_catch(run: Run, token: st.Token, node: c.Node, role: str) -> None:
    """Create the wait for a catch event, a boundary event or a receive task."""
    if node.multiple is not None:
        from engine.runtime.multiple import arm

        if arm(run, token, node, role):  # one wait per definition (§10.5.1)
            return
    if node.trigger is Trigger.TIMER:
        arm_timer(run, token, node, role)
    elif node.trigger is Trigger.CONDITIONAL:
        from engine.runtime.conditions import arm_condition

        arm_condition(run, token, node, role)
    elif node.behaviour == c.RECEIVE:
        arm_subscription(run, token, node, role, st.MESSAGE)
    elif node.trigger in _SUBSCRIPTION:
        arm_subscription(run, token, node, role, _SUBSCRIPTION[node.trigger])


def arm_boundaries(run: Run, token: st.Token, node: c.Node) -> None:
    """Boundary timers and subscriptions live exactly as long as the activity does."""
    for boundary_id in node.boundaries:
        boundary = run.nodes[boundary_id]
        if boundary.trigger in (Trigger.TIMER, Trigger.MESSAGE, Trigger.SIGNAL,
                                Trigger.CONDITIONAL) or boundary.multiple is not None:
            arm_catch(run, token, boundary, st.BOUNDARY)


def arm_subscription(run: Run, token: st.Token, node: c.Node, role: str, kind: str) -> None:
    name = run.value(node.name_text, token)
    name = None if name is None else str(name)
    correlation: dict[str, object] = {}
    if node.correlation is not None:
        correlation["key"] = to_json_value(run.evaluate(node.correlation, token))
    wait = run.new_wait(token, kind, node.id, role, name=name)
    run.emit(fx.Subscribe(wait.id, kind, name, node.id, correlation))


def arm_timer(run: Run, token: st.Token, node: c.Node, role: str) -> None:
    """Schedule a timer job. An expression is evaluated now, against the variables the
    token sees, and its result read as a date, duration or cycle of the timer's kind."""
    plan = node.timer
    if plan is None:
        raise _stuck(f"timer {node.id!r} has no definition")
    try:
        spec, due = _first_due(run, token, plan)
    except TimerError as exc:
        raise _stuck(f"timer of {node.id!r}: {exc.message}") from exc
    if due is None:
        if role == st.OWN:
            raise _stuck(f"timer of {node.id!r} ({spec.text!r}) will never fire")
        return
    _schedule(run, token, node.id, role, spec, due, 0)


def _first_due(run: Run, token: st.Token, plan: c.TimerPlan) -> tuple[TimerSpec, datetime | None]:
    if plan.spec is not None:
        return plan.spec, plan.spec.first_due(run.now)
    assert plan.expr is not None  # noqa: S101 - compile sets one of the two
    value = run.evaluate(plan.expr, token)
    if isinstance(value, datetime):
        spec = parse_timer(TimerKind.DATE, value.isoformat())
    elif isinstance(value, timedelta):
        spec = parse_timer(TimerKind.DURATION, format_duration(value))
    else:
        spec = parse_timer(plan.kind, str(value).strip())
    return spec, spec.first_due(run.now)


def _schedule(run: Run, token: st.Token, element_id: str, role: str, spec: TimerSpec,
              due: datetime, fired: int) -> None:
    wait = run.new_wait(token, st.TIMER, element_id, role, due=due.isoformat(),
                        timer=f"{spec.kind}:{spec.text}", fired=fired)
    run.emit(fx.ScheduleJob(wait.id, "timer", element_id, due,
                            {"timer": spec.text, "timer_kind": str(spec.kind),
                             "repetition": fired + 1}))


# ---------------------------------------------------------------------- firing


def fire_wait(run: Run, wait: st.Wait, variables: Mapping[str, object], *, by_id: bool) -> None:
    """A timer, message or signal arrived for `wait`."""
    if run.nodes[wait.element].multiple is not None:
        from engine.runtime.multiple import fire_part

        if fire_part(run, wait, variables, by_id=by_id):  # one of several definitions
            return
    if wait.role == st.EVENT_SUB:
        from engine.runtime.event_subprocess import fire

        fire(run, wait, variables)
        return
    token = run.state.tokens[wait.token]
    node = run.nodes[wait.element]
    if wait.role == st.BOUNDARY:
        fire_boundary(run, token, wait, variables)
        return
    run.drop_wait(wait, consumed=True)
    if wait.role == st.GATEWAY:
        # Event-based gateway: the first event wins, the others are withdrawn.
        run.drop_waits(token)
        gateway = run.nodes[token.node]
        flow = gateway.gateway_flows[node.id]
        run.audit(fx.AuditKind.GATEWAY_TAKEN, gateway.id, flows=[flow.id], token=token.id)
        token.node, token.flow, token.state = node.id, flow.id, st.WAIT
        if node.behaviour == c.RECEIVE:
            run.audit(fx.AuditKind.ACTIVITY_STARTED, node.id, token=token.id)
    if node.behaviour == c.RECEIVE:
        run.guarded(token, lambda: run.complete_activity(token, node, variables))
        return
    run.audit(fx.AuditKind.EVENT_CAUGHT, node.id, token=token.id, trigger=str(node.trigger))

    def go_on() -> None:
        run.set_variables(token, variables, node.id)
        run.leave(token, run.select_outgoing(token, node))

    run.guarded(token, go_on)


def fire_boundary(run: Run, activity: st.Token, wait: st.Wait,
                  variables: Mapping[str, object]) -> None:
    """An interrupting boundary event cancels the activity (and all inside a subprocess);
    a non-interrupting one forks a token and leaves the activity running. A timer cycle on
    a non-interrupting boundary event schedules its next repetition (R<n> in all)."""
    boundary = run.nodes[wait.element]
    if boundary.cancel_activity:
        run.drop_wait(wait, consumed=True)
        run.cancel_token(activity, f"boundary event {boundary.id}")
    elif wait.kind == st.TIMER:
        run.drop_wait(wait, consumed=True)
        repeat_timer(run, activity, wait)
    token = run.new_token(boundary.id, activity.scope)
    run.audit(fx.AuditKind.EVENT_CAUGHT, boundary.id, token=token.id,
              trigger=str(boundary.trigger), attached_to=boundary.attached_to,
              interrupting=boundary.cancel_activity)
    run.guarded(token, lambda: run.set_variables(token, variables, boundary.id))


def repeat_timer(run: Run, token: st.Token, wait: st.Wait) -> None:
    """A cycle timer that fired and keeps its role: schedule its next repetition."""
    if not wait.timer or not wait.due:
        return
    kind, text = wait.timer.split(":", 1)
    try:
        spec = parse_timer(kind, text)
        fired = wait.fired + 1
        due = spec.next_due(datetime.fromisoformat(wait.due), fired)
    except TimerError:
        return
    if due is not None:
        _schedule(run, token, wait.element, wait.role, spec, due, fired)


Catcher = tuple[st.Token | st.ScopeInstance, c.Node]


def _find_catcher(run: Run, token: st.Token, trigger: Trigger, thrown: c.ThrowCode,
                  from_activity: bool) -> Catcher | None:
    """The nearest catcher around the throw, walking outwards: the boundary events of the
    activity (when the activity itself threw), then the event subprocesses of the scope
    instance it runs in, then the boundary events of that scope's subprocess, and so on.
    An event subprocess inside the scope is closer than a boundary event on the scope's
    subprocess (Camunda 7). A catcher for this very code wins over a catch-all one."""
    from engine.runtime.event_subprocess import catcher_in_scope, pick

    current = token
    own = from_activity
    while True:
        node = run.nodes[current.node]
        # A multi-instance inner instance has no boundary events of its own: they are
        # attached to the body, which is the next token out (BPMN 2.0.2 §13.2.7).
        if own and not (node.loop is not None and run.is_inner(current)):
            found = pick([run.nodes[b] for b in node.boundaries], trigger, thrown)
            if found is not None:
                return current, found
        if not node.event_subprocess:
            # Coming out of an event subprocess, the event subprocesses of its own scope
            # are skipped: an error ESP that rethrows must not catch itself (Camunda 7
            # propagates from an event subprocess to the enclosing scope's parent).
            scope = run.state.scopes[current.scope]
            found = catcher_in_scope(run, scope, trigger, thrown)
            if found is not None:
                return scope, found
        parent = run.parent_token(current.scope)
        if parent is None:
            return None
        current, own = parent, True


def throw_error(run: Run, token: st.Token, thrown: c.ThrowCode, message: str | None, *,
                from_activity: bool) -> None:
    """A BPMN error goes to the nearest catcher that matches its code (or catches all): an
    error boundary event, interrupting that activity, or an error event subprocess,
    interrupting its scope instance (see _find_catcher for the order); none matching is an
    incident and the token stays where the error was thrown (BPMN 2.0.2 §10.5.4 leaves it
    unspecified)."""
    catcher = _find_catcher(run, token, Trigger.ERROR, thrown, from_activity)
    code = thrown.code
    if catcher is None and run.state.call is not None:
        from engine.runtime.call_activity import error_out

        error_out(run, token, code, message)  # the caller's call activity gets it
        return
    if catcher is None:
        run.audit(fx.AuditKind.ERROR_UNHANDLED, token.node, code=code, message=message)
        run.incident(token, token.node, f"BPMN error {code!r} was not caught by any error "
                     "boundary event or event subprocess")
        return
    holder, boundary = catcher
    if isinstance(holder, st.ScopeInstance):
        from engine.runtime.event_subprocess import begin

        caught: dict[str, object] = {}
        if boundary.code_variable:
            caught[boundary.code_variable] = code
        if boundary.message_variable:
            caught[boundary.message_variable] = message
        begin(run, holder, boundary, caught)
        return
    activity = holder
    scope_id = activity.scope
    run.cancel_token(activity, f"error {code}")
    new = run.new_token(boundary.id, scope_id)
    run.audit(fx.AuditKind.EVENT_CAUGHT, boundary.id, token=new.id, trigger="error",
              code=code, attached_to=boundary.attached_to)

    def set_error_variables() -> None:
        if boundary.code_variable:
            run.set_variable(new, boundary.code_variable, code, boundary.id)
        if boundary.message_variable:
            run.set_variable(new, boundary.message_variable, message, boundary.id)

    run.guarded(new, set_error_variables)


def throw_escalation(run: Run, token: st.Token, node: c.Node) -> None:
    """An escalation goes to the nearest matching escalation event subprocess or escalation
    boundary event of an enclosing subprocess; without one nothing happens and the thrower
    goes on (BPMN 2.0.2 §10.5.6: an escalation is non-critical)."""
    thrown = node.code or c.ThrowCode(None, None)
    run.audit(fx.AuditKind.EVENT_THROWN, node.id, token=token.id, trigger="escalation",
              code=thrown.code)
    catcher = _find_catcher(run, token, Trigger.ESCALATION, thrown, from_activity=False)
    if catcher is None and run.state.call is not None:
        from engine.runtime.call_activity import escalation_out

        escalation_out(run, node.id, thrown.code)  # the caller's call activity gets it
        return
    if catcher is None:
        run.audit(fx.AuditKind.ESCALATION_UNHANDLED, node.id, code=thrown.code)
        return
    holder, boundary = catcher
    if isinstance(holder, st.ScopeInstance):
        from engine.runtime.event_subprocess import begin

        # Non-interrupting: the thrower goes on alongside (§10.5.6); interrupting: the
        # scope instance, thrower included, is cancelled first.
        begin(run, holder, boundary,
              {boundary.code_variable: thrown.code} if boundary.code_variable else {})
        return
    activity = holder
    scope_id = activity.scope
    if boundary.cancel_activity:
        run.cancel_token(activity, f"escalation {thrown.code}")
    new = run.new_token(boundary.id, scope_id)
    run.audit(fx.AuditKind.EVENT_CAUGHT, boundary.id, token=new.id, trigger="escalation",
              code=thrown.code, attached_to=boundary.attached_to,
              interrupting=boundary.cancel_activity)
    if boundary.code_variable:
        run.guarded(new, lambda: run.set_variable(new, str(boundary.code_variable),
                                                  thrown.code, boundary.id))
