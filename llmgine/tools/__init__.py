"""llmgine.tools."""
