"""What an API token may do: its scopes, each a set of endpoints (docs/api.md has the table)."""

from __future__ import annotations

# Each scope names one kind of system: a deployment pipeline, an order system starting
# processes, a message bus bridge, a worker, a reporting job, an integration acting for a
# person, an operations tool.
DEPLOY = "deploy"
START = "start"
CORRELATE = "correlate"
EXTERNAL_TASKS = "external_tasks"
HISTORY = "history"
TASKS = "tasks"
OPERATE = "operate"

SCOPES: dict[str, str] = {
    DEPLOY: "deploy models and forms; read deployments and definitions",
    START: "start instances; read definitions and the instances this token's user started",
    CORRELATE: "correlate messages and broadcast signals",
    EXTERNAL_TASKS: "fetch, lock, complete and fail external (service) tasks",
    HISTORY: "read instances, jobs, incidents and the audit history; export it",
    TASKS: "work user tasks as the token's user, with that user's task permissions",
    OPERATE: "cancel, suspend, resume instances, set variables, retry jobs and incidents",
}
