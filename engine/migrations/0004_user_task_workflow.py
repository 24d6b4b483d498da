"""User task workflow columns for the inbox (claim, delegate, comments, four-eyes, SLA).

Owned by the inbox work (issue 5); 0005 (jobs) comes after it. Also the object permission
tables of django-guardian for tasks (direct foreign keys), substitutions and saved views.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

_CASCADE = django.db.models.deletion.CASCADE
_SET_NULL = django.db.models.deletion.SET_NULL


def _id() -> models.BigAutoField:
    return models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                               verbose_name="ID")


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("engine", "0003_instances_tasks_jobs"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="usertask",
            options={
                "ordering": ["created_at", "id"],
                "permissions": [("claim_usertask", "Can claim the user task"),
                                ("complete_usertask", "Can complete the user task")],
            },
        ),
        migrations.AddField(
            model_name="usertask", name="owner",
            field=models.ForeignKey(blank=True, null=True, on_delete=_SET_NULL,
                                    related_name="owned_tasks", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="usertask", name="delegation_state",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.AddField(
            model_name="usertask", name="resolved_variables",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="usertask", name="process_key",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
        migrations.AddField(
            model_name="usertask", name="business_key",
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
        migrations.AddField(
            model_name="usertask", name="list_variables",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="usertask", name="exclude_completers_of",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="usertask", name="at_risk_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="usertask", name="sla_stage",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="usertask", name="escalated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="usertask",
            index=models.Index(fields=["status", "priority"], name="engine_usertask_status_prio"),
        ),
        migrations.AddIndex(
            model_name="usertask",
            index=models.Index(fields=["status", "at_risk_at"], name="engine_usertask_status_risk"),
        ),
        migrations.AddIndex(
            model_name="usertask",
            index=models.Index(fields=["process_key", "element_id", "status"],
                               name="engine_usertask_proc_el"),
        ),
        migrations.AddIndex(
            model_name="usertask",
            index=models.Index(fields=["business_key"], name="engine_usertask_bkey"),
        ),
        migrations.AddIndex(
            model_name="usertask",
            index=models.Index(fields=["owner", "status"], name="engine_usertask_owner"),
        ),
        migrations.AddIndex(
            model_name="usertask",
            index=models.Index(condition=models.Q(("status__in", ["open", "claimed"])),
                               fields=["due", "-priority", "id"],
                               name="engine_usertask_open_due"),
        ),
        migrations.AddIndex(
            model_name="usertask",
            index=models.Index(condition=models.Q(("status__in", ["open", "claimed"])),
                               fields=["-priority", "due", "id"],
                               name="engine_usertask_open_prio"),
        ),
        migrations.AddIndex(
            model_name="usertask",
            index=models.Index(condition=models.Q(("status__in", ["open", "claimed"])),
                               fields=["created_at", "id"],
                               name="engine_usertask_open_new"),
        ),
        migrations.CreateModel(
            name="TaskUserPermission",
            fields=[
                ("id", _id()),
                ("content_object", models.ForeignKey(on_delete=_CASCADE,
                                                     related_name="user_permissions",
                                                     to="engine.usertask")),
                ("permission", models.ForeignKey(on_delete=_CASCADE, to="auth.permission")),
                ("user", models.ForeignKey(on_delete=_CASCADE, to=settings.AUTH_USER_MODEL)),
            ],
            options={"abstract": False,
                     "unique_together": {("user", "permission", "content_object")}},
        ),
        migrations.CreateModel(
            name="TaskGroupPermission",
            fields=[
                ("id", _id()),
                ("content_object", models.ForeignKey(on_delete=_CASCADE,
                                                     related_name="group_permissions",
                                                     to="engine.usertask")),
                ("group", models.ForeignKey(on_delete=_CASCADE, to="auth.group")),
                ("permission", models.ForeignKey(on_delete=_CASCADE, to="auth.permission")),
            ],
            options={"abstract": False,
                     "unique_together": {("group", "permission", "content_object")}},
        ),
        migrations.CreateModel(
            name="TaskComment",
            fields=[
                ("id", _id()),
                ("text", models.TextField()),
                ("created_at", models.DateTimeField()),
                ("author", models.ForeignKey(blank=True, null=True, on_delete=_SET_NULL,
                                             related_name="+", to=settings.AUTH_USER_MODEL)),
                ("task", models.ForeignKey(on_delete=_CASCADE, related_name="comments",
                                           to="engine.usertask")),
            ],
            options={
                "ordering": ["created_at", "id"],
                "indexes": [models.Index(fields=["task", "created_at"],
                                         name="engine_taskcomment_task")],
            },
        ),
        migrations.CreateModel(
            name="TaskSubstitution",
            fields=[
                ("id", _id()),
                ("starts_at", models.DateTimeField()),
                ("ends_at", models.DateTimeField()),
                ("created_at", models.DateTimeField()),
                ("substitute", models.ForeignKey(on_delete=_CASCADE, related_name="substituting",
                                                 to=settings.AUTH_USER_MODEL)),
                ("user", models.ForeignKey(on_delete=_CASCADE, related_name="substituted_by",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["starts_at", "id"],
                "indexes": [models.Index(fields=["substitute", "starts_at", "ends_at"],
                                         name="engine_substitution_sub")],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("ends_at__gt",
                                                               models.F("starts_at"))),
                                           name="engine_substitution_range"),
                    models.CheckConstraint(condition=models.Q(("user", models.F("substitute")),
                                                              _negated=True),
                                           name="engine_substitution_not_self"),
                ],
            },
        ),
        migrations.CreateModel(
            name="SavedInboxView",
            fields=[
                ("id", _id()),
                ("name", models.CharField(max_length=100)),
                ("view", models.CharField(default="mine", max_length=16)),
                ("filters", models.JSONField(blank=True, default=dict)),
                ("order", models.CharField(default="due", max_length=16)),
                ("created_at", models.DateTimeField()),
                ("owner", models.ForeignKey(on_delete=_CASCADE, related_name="saved_inbox_views",
                                            to=settings.AUTH_USER_MODEL)),
                ("shared_with", models.ForeignKey(blank=True, null=True, on_delete=_SET_NULL,
                                                  related_name="+", to="auth.group")),
            ],
            options={
                "ordering": ["name", "id"],
                "constraints": [models.UniqueConstraint(fields=("owner", "name"),
                                                        name="engine_savedview_name")],
            },
        ),
    ]
