"""Non-BPMN files deployed with a model (form-js JSON forms), looked up by form id.

Owned by the REST API work (issue 6); it comes after 0005 (job runner).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("engine", "0005_job_runner")]

    operations: list[migrations.operations.base.Operation] = []
