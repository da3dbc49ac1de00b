"""llmgine: production LLM applications as supervised actors on trio."""
