"""Tests of the ``llmgine`` command."""
