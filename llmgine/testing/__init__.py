"""llmgine.testing."""
