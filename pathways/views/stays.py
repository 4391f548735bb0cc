"""The plan's hospital stays: recording, correcting and cancelling admissions, leave, discharge and death."""
