"""The coordination pages: worklist, need assessment and handover, disputes, messages."""
