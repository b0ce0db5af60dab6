"""A scripted model for testing the code around the model, never drafting itself."""

from __future__ import annotations

from agent.llm.base import ChatMessage, Completion, LLMError
from agent.llm.slots import SlotSchema


class ScriptedProvider:
    """Returns the scripted outputs in order; an exception in the script is raised."""

    model_name = "scripted"

    def __init__(self, outputs: list[str | LLMError]) -> None:
        self.outputs = list(outputs)
        self.calls: list[list[ChatMessage]] = []

    def complete(
        self,
        messages: list[ChatMessage],
        schema: SlotSchema,
        *,
        temperature: float,
        seed: int | None = None,
    ) -> Completion:
        self.calls.append(messages)
        if not self.outputs:
            raise AssertionError("the scripted provider ran out of outputs")
        output = self.outputs.pop(0)
        if isinstance(output, LLMError):
            raise output
        return Completion(
            output, self.model_name, prompt_tokens=100, completion_tokens=20, latency_s=0.01
        )
