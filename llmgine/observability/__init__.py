"""llmgine.observability."""
