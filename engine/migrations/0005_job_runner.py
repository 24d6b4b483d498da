"""Job runner columns and tables (leases, attempts, external tasks, incidents).

Owned by the job runner work (issue 4); it comes after 0004 (user task workflow).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("engine", "0004_user_task_workflow")]

    operations: list[migrations.operations.base.Operation] = []
