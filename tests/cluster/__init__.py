"""Tests of llmgine.cluster (the Ray ones are marked ``cluster``)."""
