"""Call activities: start a child instance, map variables in and out, and carry a child's
uncaught BPMN errors and escalations to the call activity (BPMN 2.0.2 §10.3.3 and §10.5;
where the spec is silent, Camunda 7 for camunda:in/out and Zeebe for zeebe:calledElement).

The runtime of one instance never sees another instance: entering a call activity makes a
wait of kind `call` and emits `StartCallActivity`; the shell (or the Simulation) starts the
child and later answers with `ChildCompleted` or `ChildFailed` for that call id. A child
knows it was called (`InstanceState.call`): an error nothing in it catches ends it and
leaves as `ErrorThrownOut`, an escalation nothing in it catches leaves as
`EscalationThrownOut` (the child goes on, §10.5.6), and the caller turns either into a
`ChildFailed` on its call activity, where boundary events catch it as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bpmn import model as m
from bpmn.expr import EvaluationError, Expression, evaluate
from bpmn.model import Trigger
from engine.runtime import compile as c
from engine.runtime import effects as fx
from engine.runtime import state as st
from engine.runtime import triggers as tr
from engine.runtime.variables import VariableError, snapshot, to_json_value, view

if TYPE_CHECKING:
    from engine.runtime.machine import Run

ZEEBE_NAMESPACE = "http://camunda.org/schema/zeebe/1.0"
# Callers above one instance at most: a process that calls itself without end becomes an
# incident at the call activity that would go deeper, not a stack overflow.
MAX_CALL_DEPTH = 32
CAMUNDA_NAMESPACE = "http://camunda.org/schema/1.0/bpmn"


@dataclass(frozen=True, slots=True)
class VariableMapping:
    """One camunda:in or camunda:out: `source` (a variable), or `expression`, to `target`;
    or every variable (`all_variables`, variables="all"). `local`: only the call activity's
    local variables (in), or set as locals of the call activity (out)."""

    source: str | None
    expression: Expression | None
    target: str | None
    all_variables: bool
    local: bool


@dataclass(frozen=True, slots=True)
class CallPlan:
    called: c.Text
    binding: str
    version: c.Text | None
    ins: tuple[VariableMapping, ...]
    outs: tuple[VariableMapping, ...]
    business_key: Expression | None  # camunda:in businessKey="..."
    inherit_business_key: bool  # businessKey="${execution.processBusinessKey}"
    zeebe: bool  # Zeebe's defaults: pass everything in, propagate everything out
    propagate_all: bool  # zeebe propagateAllChildVariables (default true)


def call_plan(builder: c._Builder, node: m.CallActivity) -> CallPlan:
    """Compile the call activity's called element and variable mappings (deploy time)."""
    called = builder.text(node.called_element, node, "called element") or c.Text(literal="")
    version = builder.text(node.version, node, "called element version")
    ext = node.ext
    business_key: Expression | None = None
    inherit = False

    def mapping(raw: m.CallMapping) -> VariableMapping:
        expression = None
        if raw.source_expression and raw.source_expression.strip():
            expression = builder.expr(raw.source_expression.strip(), node, "sourceExpression")
        return VariableMapping(raw.source, expression, raw.target or raw.source,
                               raw.all_variables, raw.local)

    ins: list[VariableMapping] = []
    for raw in ext.call_in:
        if raw.business_key is not None:
            text = raw.business_key.strip()
            if "processBusinessKey" in text:
                # ${execution.processBusinessKey}: the caller's own business key (Camunda 7
                # docs, "Passing the business key"); `execution` is not a variable here.
                inherit = True
            elif text:
                business_key = builder.expr(text, node, "business key")
            continue
        ins.append(mapping(raw))
    outs = [mapping(raw) for raw in ext.call_out]
    # Zeebe's defaults apply to a zeebe:calledElement (the parser sets propagate_all only
    # there; its default is true) or to a Zeebe-only model; camunda:in/out mean Camunda 7.
    namespaces = set(builder.definitions.namespaces.values())
    zeebe = not ext.call_in and not ext.call_out and (
        node.propagate_all_child_variables
        or (ZEEBE_NAMESPACE in namespaces and CAMUNDA_NAMESPACE not in namespaces))
    return CallPlan(called, node.binding or "latest", version, tuple(ins), tuple(outs),
                    business_key, inherit, zeebe, node.propagate_all_child_variables)


def _stuck(message: str) -> Exception:
    from engine.runtime.machine import Stuck

    return Stuck(message)


def _evaluate(run: Run, expr: Expression, variables: Mapping[str, object]) -> object:
    try:
        return to_json_value(evaluate(expr, variables, now=run.now))
    except (EvaluationError, VariableError) as exc:
        raise _stuck(f"{expr.text!r}: {exc}") from exc


def _plan(node: c.Node) -> CallPlan:
    if not isinstance(node.call, CallPlan):  # pragma: no cover - compile sets it
        raise _stuck(f"call activity {node.id!r} was not compiled")
    return node.call


# ---------------------------------------------------------------------- entering


def enter_call(run: Run, token: st.Token, node: c.Node) -> None:
    """The token waits on the call activity while its child instance runs."""
    plan = _plan(node)
    called = run.value(plan.called, token)
    if called in (None, ""):
        raise _stuck(f"call activity {node.id!r}: the called element is empty")
    version = run.value(plan.version, token)
    variables = _variables_in(run, token, node, plan)
    business_key: str | None = None
    if plan.inherit_business_key:
        business_key = run.state.business_key
    elif plan.business_key is not None:
        value = _evaluate(run, plan.business_key, view(run.state, token))
        business_key = None if value is None else str(value)
    wait = run.new_wait(token, st.CALL, node.id, st.OWN, name=str(called))
    run.audit(fx.AuditKind.CALL_STARTED, node.id, token=token.id, call=wait.id,
              called_element=str(called), binding=plan.binding,
              version=None if version is None else str(version))
    run.emit(fx.StartCallActivity(wait.id, node.id, str(called), plan.binding,
                                  None if version in (None, "") else str(version),
                                  business_key, variables))


def _variables_in(run: Run, token: st.Token, node: c.Node,
                  plan: CallPlan) -> dict[str, object]:
    """What the child starts with. Camunda 7 passes only what camunda:in names (variables
    "all": everything the call activity sees; local="true": only its local variables).
    Zeebe passes every visible variable; with input mappings, only the mapped ones (the
    brief of the call activity: the activity's local variables)."""
    visible = view(run.state, token)
    if plan.zeebe:
        if node.inputs:
            return dict(token.locals or {})
        return snapshot(run.state, token)
    out: dict[str, object] = {}
    for mapping in plan.ins:
        if mapping.all_variables:
            out.update(dict(token.locals or {}) if mapping.local else dict(visible))
        elif mapping.expression is not None and mapping.target:
            out[mapping.target] = _evaluate(run, mapping.expression, visible)
        elif mapping.source and mapping.target:
            # A source the caller does not have is passed as null (Camunda 7 does).
            out[mapping.target] = visible.get(mapping.source)
    return out


# ---------------------------------------------------------------------- the child ended


def child_ended(run: Run, trigger: tr.ChildCompleted | tr.ChildFailed) -> None:
    """ChildCompleted: out mappings, then the call activity completes. ChildFailed: an
    error (or escalation) raised at the call activity, or an incident."""
    wait = run.wait_for(trigger.call_id, st.CALL)
    token = run.state.tokens[wait.token]
    node = run.nodes[token.node]
    if isinstance(trigger, tr.ChildCompleted):
        run.drop_wait(wait, consumed=True)
        run.audit(fx.AuditKind.CALL_COMPLETED, node.id, token=token.id, call=wait.id)
        run.guarded(token, lambda: _complete(run, token, node, trigger.variables))
        return
    run.audit(fx.AuditKind.CALL_FAILED, node.id, token=token.id, call=wait.id,
              failure=trigger.kind, code=trigger.error_code, message=trigger.message)
    if trigger.kind == "escalation":
        escalate_at(run, token, trigger.error_code)  # non-interrupting for the child
        return
    run.drop_wait(wait, consumed=True)  # the child has ended (or never started)
    if trigger.kind == "error":
        from engine.runtime.events import throw_error

        throw_error(run, token, c.ThrowCode(None, trigger.error_code), trigger.message,
                    from_activity=True)
        return
    run.incident(token, node.id, trigger.message or "the called process could not start")


def _complete(run: Run, token: st.Token, node: c.Node,
              child: Mapping[str, object]) -> None:
    plan = _plan(node)
    results: dict[str, object] = {}
    if plan.zeebe:
        if node.outputs:
            # Zeebe: output mappings are evaluated over the child's variables and decide
            # alone what reaches the caller; they see them as the activity's locals here.
            token.locals = {**(token.locals or {}), **dict(child)}
        elif plan.propagate_all:
            results = dict(child)
    else:
        for mapping in plan.outs:
            if mapping.all_variables:
                values = dict(child)
            elif mapping.expression is not None and mapping.target:
                # camunda:out sourceExpression is evaluated in the child (Camunda 7).
                values = {mapping.target: _evaluate(run, mapping.expression, child)}
            elif mapping.source and mapping.target:
                values = {mapping.target: child.get(mapping.source)}
            else:
                continue
            if mapping.local:
                token.locals = {**(token.locals or {}), **values}
            else:
                results.update(values)
    # Set from the call activity by setVariable (Camunda 7): the nearest scope holding the
    # name, else the process instance; then its output mappings, then it leaves.
    run.complete_activity(token, node, results)


# ---------------------------------------------------------------------- errors and escalations


def error_out(run: Run, token: st.Token, code: str | None, message: str | None) -> None:
    """A BPMN error nothing in this called instance catches: it ends here (cancelled, every
    token with it) and the error goes on at the caller's call activity (Camunda 7
    propagates it to the super execution; the called instance is ended)."""
    run.audit(fx.AuditKind.ERROR_THROWN_OUT, token.node, code=code, message=message,
              call=run.state.call)
    roots = [s.id for s in run.state.scopes.values() if s.parent is None]
    if roots:
        run.cancel_scope(min(roots), f"error {code} thrown to the caller")
    run.state.status = st.CANCELLED
    run.audit(fx.AuditKind.PROCESS_CANCELLED, run.compiled.process_id,
              reason=f"error {code} thrown to the caller")
    run.emit(fx.ErrorThrownOut(code, message, token.node))


def escalation_out(run: Run, element_id: str, code: str | None) -> None:
    """An escalation nothing in this called instance catches goes on at the caller's call
    activity; the thrower goes on (§10.5.6: an escalation is non-critical)."""
    run.audit(fx.AuditKind.ESCALATION_THROWN_OUT, element_id, code=code, call=run.state.call)
    run.emit(fx.EscalationThrownOut(code, element_id))


def escalate_at(run: Run, token: st.Token, code: str | None) -> None:
    """An escalation from the child, raised at the call activity `token` stands on: its
    escalation boundary events first, then outwards like any escalation."""
    from engine.runtime.events import _find_catcher

    thrown = c.ThrowCode(None, code)
    catcher = _find_catcher(run, token, Trigger.ESCALATION, thrown, from_activity=True)
    if catcher is None:
        if run.state.call is not None:
            escalation_out(run, token.node, code)
        else:
            run.audit(fx.AuditKind.ESCALATION_UNHANDLED, token.node, code=code)
        return
    holder, boundary = catcher
    variables = {boundary.code_variable: code} if boundary.code_variable else {}
    if isinstance(holder, st.ScopeInstance):
        from engine.runtime.event_subprocess import begin

        begin(run, holder, boundary, variables)
        return
    scope_id = holder.scope
    if boundary.cancel_activity:
        run.cancel_token(holder, f"escalation {code}")  # CancelCallActivity for the child
    new = run.new_token(boundary.id, scope_id)
    run.audit(fx.AuditKind.EVENT_CAUGHT, boundary.id, token=new.id, trigger="escalation",
              code=code, attached_to=boundary.attached_to,
              interrupting=boundary.cancel_activity)
    run.guarded(new, lambda: run.set_variables(new, variables, boundary.id))
