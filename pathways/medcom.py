"""MedCom HospitalNotification (FHIR R4 message Bundle): reading and checking a received message, and the
answers — MedCom's Acknowledgement and a FHIR OperationOutcome naming what is wrong. No database here."""
