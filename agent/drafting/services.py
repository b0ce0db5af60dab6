"""The long-lived parts a drafting run needs, created on first use and shared."""

from __future__ import annotations

import threading
from datetime import datetime
from functools import cached_property

from sqlalchemy.engine import Engine

from agent.config import Settings
from agent.context.db import init_db, make_engine
from agent.context.store import ContextStore
from agent.domain import BrandProfile, CustomerContext, DraftRequest
from agent.knowledge.brand import classify_family, load_brand
from agent.knowledge.store import KnowledgeStore, open_store
from agent.llm.base import LLMProvider
from agent.llm.factory import build_provider
from agent.review.store import DraftStore


class Services:
    """Database, knowledge base, model and stores for one process.

    Tests pass their own `provider` or `knowledge`; everything else comes from settings.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        provider: LLMProvider | None = None,
        knowledge: KnowledgeStore | None = None,
    ) -> None:
        self.settings = settings
        self._engine = engine
        self._provider = provider
        self._knowledge = knowledge
        self._catalogue: frozenset[str] | None = None
        self._lock = threading.Lock()

    @cached_property
    def engine(self) -> Engine:
        engine = self._engine or make_engine(self.settings.resolved_database_url)
        init_db(engine)
        return engine

    @cached_property
    def contexts(self) -> ContextStore:
        return ContextStore(self.engine)

    @cached_property
    def drafts(self) -> DraftStore:
        return DraftStore(self.engine)

    @property
    def knowledge(self) -> KnowledgeStore:
        with self._lock:
            if self._knowledge is None:
                self._knowledge = open_store(self.settings)
            return self._knowledge

    @property
    def provider(self) -> LLMProvider:
        with self._lock:
            if self._provider is None:
                self._provider = build_provider(self.settings)
            return self._provider

    def brand(self, brand_id: str) -> BrandProfile:
        return load_brand(self.settings.kb_dir, brand_id)

    def catalogue(self) -> frozenset[str]:
        if self._catalogue is None:
            self._catalogue = self.contexts.catalogue()
        return self._catalogue

    def context_for(
        self, request: DraftRequest, brand: BrandProfile, as_of: datetime
    ) -> CustomerContext:
        if request.context is None:
            assert request.customer_id is not None  # guaranteed by DraftRequest's validator
            return self.contexts.load(request.customer_id, as_of=as_of, brand=brand)
        context = request.context.model_copy(deep=True)
        for order in context.orders:
            for line in order.lines:
                line.family = line.family or classify_family(line.description, brand)
        return context
