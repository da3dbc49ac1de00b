"""llmgine.bus."""
