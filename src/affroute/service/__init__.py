"""Use cases that join the engine with files and storage: batch routing, record loading."""
