"""Hospital stays and the transitions that act on the plan: admission, leave, discharge and death, entered
on the plan page or received as MedCom HospitalNotifications (pathways.ingest). Each transition records what
it did (TransitionEffect), so a correction or cancellation undoes exactly that."""
