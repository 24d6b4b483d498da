# Portal tables: SLA policies, notifications, assignment rules (issue 5).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('engine', '0004_user_task_workflow'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='GroupAssignmentRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('strategy', models.CharField(choices=[('round-robin', 'round-robin'), ('least-loaded', 'least-loaded')], max_length=16)),
                ('group', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='assignment_rule', to='auth.group')),
            ],
            options={
                'ordering': ['group__name'],
            },
        ),
        migrations.CreateModel(
            name='SlaPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('process_key', models.CharField(max_length=255)),
                ('element_id', models.CharField(blank=True, default='', help_text="The task's element id; empty = every task of the process.", max_length=255)),
                ('due_after', models.DurationField(blank=True, null=True)),
                ('at_risk_after', models.DurationField(blank=True, null=True)),
                ('escalate_to_group', models.CharField(blank=True, default='', max_length=150)),
                ('notify_groups', models.CharField(blank=True, default='', help_text='Comma-separated group names.', max_length=500)),
                ('reclaim_on_breach', models.BooleanField(default=False, help_text='On breach, take the task from whoever holds it, back to its candidates and the escalation group.')),
            ],
            options={
                'verbose_name': 'SLA policy',
                'verbose_name_plural': 'SLA policies',
                'ordering': ['process_key', 'element_id'],
                'constraints': [models.UniqueConstraint(fields=('process_key', 'element_id'), name='portal_slapolicy_unique')],
            },
        ),
        migrations.CreateModel(
            name='Notification',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('offered', 'task offered to you'), ('assigned', 'task assigned to you'), ('at_risk', 'task at risk'), ('breached', 'task breached its SLA'), ('escalated', 'task escalated')], max_length=16)),
                ('message', models.CharField(max_length=500)),
                ('created_at', models.DateTimeField()),
                ('read_at', models.DateTimeField(blank=True, null=True)),
                ('task', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='engine.usertask')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='task_notifications', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['user', 'read_at', 'created_at'], name='portal_notif_unread')],
            },
        ),
    ]
