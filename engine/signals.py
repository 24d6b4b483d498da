"""Hooks the engine fires about user tasks, so the portal can react without being imported.

Arrows point one way (tasks_portal -> engine): the engine only *sends* these Django
signals; the portal connects receivers in its AppConfig.ready(). They are sent inside the
engine's transaction, so a receiver that writes rows (object permissions, notifications)
commits or rolls back with the change itself. A receiver with an outside effect (a
WebSocket push, an e-mail) must wrap it in `transaction.on_commit`.

Every signal is sent with `sender=UserTask` and these keyword arguments:

- user_task_created:  task (the new UserTask row)
- user_task_changed:  task, change (one of TASK_CHANGES), actor (a user or None),
                      data (dict with details, e.g. {"to": "bob"} for a delegation)
- user_tasks_cancelled: instance_id, task_pks (list of row pks that were open and now are
                      cancelled: interrupted by a boundary event, instance ended, ...)
"""

from __future__ import annotations

from django.dispatch import Signal

TASK_CHANGES = frozenset({
    "claimed", "unclaimed", "assigned", "delegated", "resolved", "completed",
    "commented", "escalated", "candidates_changed",
})

user_task_created = Signal()
user_task_changed = Signal()
user_tasks_cancelled = Signal()
