"""The `offline/...` litellm custom provider: OFFLINE STAND-INS for a writer, researcher, judge and embedder.

Registered in litellm's ``custom_provider_map`` so offline calls travel the same Router, ledger,
budget and circuit code path as real providers. Chat models answer with a responder function
(default ``allixios.content.offline_writer.respond(messages) -> str``). Two local embedders:
``offline/minilm-l6-v2-int8`` is a REAL model (all-MiniLM-L6-v2 int8 on onnxruntime,
``allixios.ai.minilm``; the keyless default), ``offline/hashing-384`` the OFFLINE EMBEDDER
stand-in (``allixios.ai.offline_embedder``), used only when a catalogue names it explicitly.
Token counts are real tokenizer counts (cl100k; word-pieces for MiniLM), so nominal catalogue
prices give meaningful costs. Imported only by ``allixios.ai.router`` (it
imports litellm).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable

import litellm
from litellm import CustomLLM
from litellm.types.utils import EmbeddingResponse, ModelResponse, Usage

from allixios.ai import offline_embedder

PROVIDER = "offline"
DEFAULT_RESPONDER = "allixios.content.offline_writer:respond"

log = logging.getLogger(__name__)
_responders: dict[str, str | Callable[[list[dict]], str]] = {}
_lock = threading.Lock()


class OfflineProviderError(Exception):
    """The offline stand-in could not answer (e.g. its responder is not importable)."""

    def __init__(self, message: str, status_code: int = 500):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def set_responder(model: str, responder: str | Callable[[list[dict]], str] | None) -> None:
    """Which function answers ``offline/<model>``: a callable or "module:function" (None = default)."""
    with _lock:
        if responder is None:
            _responders.pop(model, None)
        else:
            _responders[model] = responder


def _resolve(model: str) -> Callable[[list[dict]], str]:
    target = _responders.get(model, DEFAULT_RESPONDER)
    if callable(target):
        return target
    module_name, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr or "respond")
    except (ImportError, AttributeError) as exc:
        raise OfflineProviderError(f"offline responder {target!r} for offline/{model} is not importable: {exc}") from None


def count_tokens(text: str) -> int:
    return litellm.token_counter(text=text) if text else 0


def _messages_text(messages: list[dict]) -> str:
    parts = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):  # multi-part content: keep the text parts
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(str(content or ""))
    return "\n".join(parts)


def _answer(model: str, messages: list[dict]) -> ModelResponse:
    started = time.perf_counter()
    responder = _resolve(model)
    try:
        text = responder(messages)
    except OfflineProviderError:
        raise
    except ValueError as exc:  # the prompt is not one the stand-in understands: a 400, not an outage
        raise OfflineProviderError(f"offline/{model} cannot answer this prompt: {exc}", 400) from None
    except Exception as exc:
        raise OfflineProviderError(f"offline/{model} failed: {type(exc).__name__}: {exc}", 500) from None
    if not isinstance(text, str):
        raise OfflineProviderError(f"offline responder for offline/{model} returned {type(text).__name__}, not str")
    prompt_tokens = count_tokens(_messages_text(messages))
    completion_tokens = count_tokens(text)
    response = ModelResponse(
        model=f"{PROVIDER}/{model}",
        choices=[{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                    total_tokens=prompt_tokens + completion_tokens),
    )
    response._response_ms = (time.perf_counter() - started) * 1000
    return response


_HASHING = offline_embedder.OFFLINE_EMBEDDING_MODEL.split("/", 1)[1]
_MINILM = "minilm-l6-v2-int8"
_warned_hashing = False


def _embed(model: str, texts: list, model_response: EmbeddingResponse) -> EmbeddingResponse:
    global _warned_hashing
    texts = [t if isinstance(t, str) else str(t) for t in texts]
    if model == _MINILM:
        from allixios.ai import minilm
        from allixios.errors import AllixiosError

        try:
            vectors, tokens = minilm.embed_texts(texts)
        except AllixiosError as exc:  # a wrong or missing model file: not transient, so a 400 (no retries)
            raise OfflineProviderError(exc.one_line(), 400) from None
    elif model == _HASHING:
        if not _warned_hashing:  # once per process: an explicit choice, but never a silent one
            _warned_hashing = True
            log.warning("embedding with offline/hashing-384, the OFFLINE EMBEDDER stand-in (word overlap, not "
                        "meaning); the keyless default is offline/minilm-l6-v2-int8")
        vectors = offline_embedder.embed_texts(texts, offline_embedder.OFFLINE_EMBEDDING_DIMENSION)
        tokens = sum(count_tokens(t) for t in texts)
    else:
        raise OfflineProviderError(
            f"offline/{model} is not an offline embedding model; use offline/{_MINILM} or offline/{_HASHING}", 400)
    model_response.data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    model_response.model = f"{PROVIDER}/{model}"
    model_response.usage = Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens)
    return model_response


class OfflineProvider(CustomLLM):
    """litellm handler for ``offline/<model>``."""

    def completion(self, model, messages, *args, **kwargs) -> ModelResponse:
        return _answer(model, messages)

    async def acompletion(self, model, messages, *args, **kwargs) -> ModelResponse:
        return _answer(model, messages)

    def embedding(self, model, input, model_response, *args, **kwargs) -> EmbeddingResponse:
        return _embed(model, input, model_response)

    async def aembedding(self, model, input, model_response, *args, **kwargs) -> EmbeddingResponse:
        return _embed(model, input, model_response)


def register() -> None:
    """Add the provider to litellm's custom provider map (idempotent; call under the router lock)."""
    if not any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        litellm.custom_provider_map = [*litellm.custom_provider_map, {"provider": PROVIDER, "custom_handler": OfflineProvider()}]
