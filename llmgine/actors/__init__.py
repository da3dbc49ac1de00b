"""llmgine.actors."""
