"""llmgine.engines."""
