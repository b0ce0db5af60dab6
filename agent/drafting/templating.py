"""Sandboxed Jinja2 environments for prompts and channel templates."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, UndefinedError
from jinja2.sandbox import SandboxedEnvironment


class TemplateError(RuntimeError):
    """A prompt or channel template is missing or uses a variable it was not given."""


@lru_cache(maxsize=8)
def environment(folder: Path, *, html: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        undefined=StrictUndefined,
        autoescape=html,
        keep_trailing_newline=False,
        trim_blocks=False,
    )


def render(folder: Path, name: str, variables: dict[str, object], *, html: bool = False) -> str:
    """Render `name` from `folder`; a missing template or variable raises TemplateError."""
    try:
        return environment(folder, html=html).get_template(name).render(**variables)
    except TemplateNotFound as error:
        raise TemplateError(f"template `{error.name}` not found in {folder}") from error
    except UndefinedError as error:
        raise TemplateError(
            f"template `{name}` in {folder} uses an undefined variable: {error.message}; "
            f"given: {', '.join(sorted(variables))}"
        ) from error
