"""Non-BPMN files deployed with a model (form-js JSON forms), looked up by form id.

Owned by the REST API work (issue 6); it comes after 0005 (job runner).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("engine", "0005_job_runner")]

    operations = [
        migrations.CreateModel(
            name="DeploymentResource",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(help_text="The uploaded file's name.", max_length=255)),
                ("form_id", models.CharField(help_text="The form's `id` in its JSON.", max_length=255)),
                ("schema", models.JSONField(help_text="The form-js JSON as deployed.")),
                ("checksum", models.CharField(help_text="SHA-256 of the uploaded bytes, hex.", max_length=64)),
                ("deployment", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="resources", to="engine.deployment")),
            ],
            options={
                "ordering": ["deployment", "name"],
                "indexes": [models.Index(fields=["form_id", "deployment"], name="engine_resource_form_dep")],
                "constraints": [
                    models.UniqueConstraint(fields=("deployment", "name"), name="engine_resource_name"),
                    models.UniqueConstraint(fields=("deployment", "form_id"), name="engine_resource_form"),
                ],
            },
        ),
    ]
