"""Tools the model may call: ``@tool``, their JSON Schemas, and the registry that runs them.

::

    @tool
    async def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
        \"\"\"Get the current weather.

        Args:
            city: City name.
            unit: Temperature unit.
        \"\"\"

    registry = ToolRegistry([get_weather])
    result = await registry.execute(ToolCallPart(id="c1", name="get_weather",
                                                 arguments={"city": "Paris"}))
"""

from ._registry import ToolRegistry as ToolRegistry
from ._tool import Tool as Tool
from ._tool import tool as tool
