"""llmgine.cli."""
