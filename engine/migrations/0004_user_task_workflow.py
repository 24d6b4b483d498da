"""User task workflow columns for the inbox (claim, delegate, comments, four-eyes, SLA).

Owned by the inbox work (issue 5); 0005 (jobs) comes after it.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("engine", "0003_instances_tasks_jobs")]

    operations: list[migrations.operations.base.Operation] = []
