"""Receiving MedCom HospitalNotifications: the sender's credential, idempotency by message id, event-time
order (a message that arrives before the one it follows is held), citizens without a plan, and applying
each message to the plan through pathways.stays."""
