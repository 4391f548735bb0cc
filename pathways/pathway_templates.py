"""Pathway templates: publishing an administrator's edit as a frozen version, making a plan's goals and
tasks from one or more templates (merged by key, no duplicates), the discharge rules' follow-ups, and
"update from template" with a preview. Writes go through pathways.services, so rights, audit trail and
notifications are the hub's."""
