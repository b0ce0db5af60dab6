"""Sample the model's fields, reask it to rewrite the fields that fail their checks, and
fall back to approved copy for the fields that still fail."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.domain import Attempt, Finding, Severity
from agent.llm.base import ChatMessage, LLMError, LLMProvider
from agent.llm.slots import OutputInvalid, SlotSchema

log = logging.getLogger(__name__)

# Characters of the reasons quoted in a drafting.fallback finding.
FALLBACK_REASON_CHARS = 600

# Returns the findings on model-written fields for a complete set of fields.
FieldCheck = Callable[[dict[str, str]], list[Finding]]
# Builds the reask messages from the model's previous fields, their findings and the schema
# of the fields to rewrite.
ReaskPrompt = Callable[[dict[str, str], list[Finding], SlotSchema], list[ChatMessage]]
# Returns the approved copy for the named fields.
ApprovedCopy = Callable[[list[str]], dict[str, str]]


@dataclass
class Outcome:
    """The fields chosen for the message and how they were obtained.

    `attempts` counts model calls, a failed call included, and equals len(attempt_log).
    """

    fields: dict[str, str]
    model: str
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    fallback_fields: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    attempt_log: list[Attempt] = field(default_factory=list)


@dataclass(frozen=True)
class Candidate:
    """A complete set of fields, fixed ones included, with the findings on them."""

    fields: dict[str, str]
    findings: list[Finding]

    def failing(self, names: list[str]) -> list[str]:
        """Return the names of failing fields, in the order of `names`."""
        failed = {finding.field for finding in self.findings}
        return [name for name in names if name in failed]


def subset_schema(schema: SlotSchema, names: list[str]) -> SlotSchema:
    """Return a schema with only the named slots, in the schema's order."""
    slots = tuple(slot for slot in schema.slots if slot.name in names)
    if not slots:
        raise ValueError(f"none of {names!r} is a field of schema `{schema.name}`")
    return SlotSchema(f"{schema.name}_{'_'.join(slot.name for slot in slots)}", slots)


class Sampler:
    """One draft's model calls: samples, reasks and the per-field fallback. Use it once.

    Full drafts are sampled until one is valid JSON that fits the schema, up to `samples`
    times. When that draft fails checks, the model is asked again for only the failed
    fields, given the findings, up to `reask_attempts` times, while the passing fields are
    kept. With `reask_attempts` 0, failing drafts are resampled instead and the one with the
    fewest findings is kept. Fields that still fail get approved copy.
    """

    def __init__(
        self,
        provider: LLMProvider,
        *,
        schema: SlotSchema,
        messages: list[ChatMessage],
        check: FieldCheck,
        reask_prompt: ReaskPrompt,
        approved: ApprovedCopy,
        fixed_fields: dict[str, str],
        samples: int,
        reask_attempts: int,
        temperature: float,
        seed: int,
    ) -> None:
        self.provider = provider
        self.schema = schema
        self.messages = messages
        self.check = check
        self.reask_prompt = reask_prompt
        self.approved = approved
        self.fixed_fields = fixed_fields
        self.samples = samples
        self.reask_attempts = reask_attempts
        self.temperature = temperature
        self.seed = seed
        self.outcome = Outcome(fields={}, model=provider.model_name)
        self.best: Candidate | None = None
        self.errors: list[str] = []
        # Per reask: the fields requested and the check ids that caused it.
        self.reasks: list[tuple[list[str], list[str]]] = []

    def run(self) -> Outcome:
        """Call the model as needed and return the chosen fields with the attempt log."""
        try:
            self._sample()
            if self.best is not None and self.best.findings and self.reask_attempts:
                self._reask(self.best)
        except LLMError as error:
            log.warning("model call failed for %s: %s", self.schema.name, error)
            self.outcome.findings.append(_warn("llm.failed", f"the model call failed: {error}"))
        if self.reasks:
            self.outcome.findings.append(self._reask_finding())
        if self.best is not None and not self.best.findings:
            self.outcome.fields = self.best.fields
            return self.outcome
        return self._fall_back()

    # --- model calls --------------------------------------------------------------------

    def _sample(self) -> None:
        for index in range(self.samples):
            written = self._call(self.messages, self.schema, self.seed + index)
            if written is None:
                continue
            candidate = self._checked(written)
            if not candidate.findings or self.reask_attempts:
                self.best = candidate
                return
            if self.best is None or len(candidate.findings) < len(self.best.findings):
                self.best = candidate

    def _reask(self, best: Candidate) -> None:
        names = self.schema.field_names()
        for index in range(self.reask_attempts):
            failing = best.failing(names)
            check_ids = list(dict.fromkeys(f.check_id for f in best.findings))
            self.reasks.append((failing, check_ids))
            log.info("reasking %s for %s after %s", self.schema.name, failing, ", ".join(check_ids))
            subset = subset_schema(self.schema, failing)
            previous = {name: best.fields[name] for name in names}
            messages = self.reask_prompt(previous, best.findings, subset)
            written = self._call(messages, subset, self.seed + self.samples + index)
            if written is None:
                continue
            best = self.best = self._checked(written, base=best.fields)
            if not best.findings:
                return

    def _call(
        self, messages: list[ChatMessage], schema: SlotSchema, seed: int
    ) -> dict[str, str] | None:
        """Call the model once; return its fields, or None when its output is invalid.

        Every call is logged as an attempt. An LLMError is logged, then raised.
        """
        self.outcome.attempts += 1
        number = self.outcome.attempts
        try:
            completion = self.provider.complete(
                messages, schema, temperature=self.temperature, seed=seed
            )
        except LLMError as error:
            self.outcome.attempt_log.append(Attempt(number=number, error=f"{error}"))
            raise
        self.outcome.prompt_tokens += completion.prompt_tokens
        self.outcome.completion_tokens += completion.completion_tokens
        try:
            return schema.parse(completion.text)
        except OutputInvalid as error:
            self.errors.append(str(error))
            self.outcome.attempt_log.append(Attempt(number=number, error=str(error)))
            return None

    def _checked(self, written: dict[str, str], base: dict[str, str] | None = None) -> Candidate:
        """Merge the written fields into `base` (the fixed fields by default) and check them."""
        fields = (self.fixed_fields if base is None else base) | written
        findings = self.check(fields)
        number = self.outcome.attempts
        self.outcome.attempt_log.append(Attempt(number=number, fields=written, findings=findings))
        return Candidate(fields, findings)

    # --- results ------------------------------------------------------------------------

    def _reask_finding(self) -> Finding:
        requested = list(dict.fromkeys(name for fields, _ in self.reasks for name in fields))
        check_ids = list(dict.fromkeys(i for _, ids in self.reasks for i in ids))
        still = self.best.failing(requested) if self.best is not None else requested
        repaired = [name for name in requested if name not in still]
        message = (
            f"after {', '.join(check_ids)}, the model was asked {len(self.reasks)} time(s) to "
            f"rewrite {', '.join(requested)}; repaired: {', '.join(repaired) or 'none'}"
        )
        if still:
            message += f"; still failing, so approved copy: {', '.join(still)}"
        return _warn("drafting.reask", message)

    def _fall_back(self) -> Outcome:
        names = self.schema.field_names()
        if self.best is not None:
            fields, failing = dict(self.best.fields), self.best.failing(names)
            reasons = [finding.message for finding in self.best.findings]
        else:
            fields, failing, reasons = {}, names, self.errors
        replaced = [name for name in names if name in failing or name not in fields]
        fields.update(self.approved(replaced))
        self.outcome.fields = self.fixed_fields | {name: fields[name] for name in names}
        self.outcome.fallback_fields = replaced
        reason = "; ".join(dict.fromkeys(reasons))[:FALLBACK_REASON_CHARS]
        self.outcome.findings.append(
            _warn(
                "drafting.fallback",
                f"{', '.join(replaced)} fell back to approved copy after "
                f"{self.outcome.attempts} model call(s): {reason or 'no usable model output'}",
            )
        )
        return self.outcome


def _warn(check_id: str, message: str) -> Finding:
    return Finding(check_id=check_id, severity=Severity.WARN, message=message)
