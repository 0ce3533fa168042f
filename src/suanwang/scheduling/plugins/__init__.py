"""In-tree scheduling plugins (see ``suanwang.scheduling.registry`` for their names)."""
