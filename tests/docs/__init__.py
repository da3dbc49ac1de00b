"""The documentation cannot rot: its examples run."""
