"""Pages for a plan's pathway templates: the preview and the update from a newer version."""
