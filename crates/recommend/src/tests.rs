use readnext_analysis::analyze;
use readnext_core::Article;
use readnext_store::{Record, Write};

use crate::{Engine, Query, RelatedOptions};

fn article(id: &str, title: &str, body: &str, day: i64) -> Article {
    Article {
        id: id.into(),
        title: title.into(),
        body: body.split("\n\n").map(str::to_string).collect(),
        published: Some(day * 86_400),
        ..Default::default()
    }
}

fn upsert(a: Article) -> Write {
    let analysis = analyze(&a).unwrap();
    Write::Upsert(Box::new(Record { article: a, analysis, vector: None }))
}

const CARTELS: &str = "Defense Secretary Pete Hegseth told Mexican officials that the military could act against \
    the drug cartels. President Claudia Sheinbaum rejected any intervention. Tariffs on Mexican products loom.";

fn corpus() -> Vec<Write> {
    vec![
        upsert(article("q", "Hegseth warns Mexico over cartels", CARTELS, 20_000)),
        upsert(article(
            "copy",
            "Hegseth warns Mexico over the cartels",
            &format!("{CARTELS} Reuters contributed."),
            20_001,
        )),
        upsert(article("copy2", "Hegseth warns Mexico over cartels", CARTELS, 20_002)),
        upsert(article(
            "tariffs",
            "Tariffs on Mexican products take effect",
            "The tariffs on Mexican products took effect after talks on cartels and fentanyl with Sheinbaum failed.",
            20_010,
        )),
        upsert(article(
            "sheinbaum",
            "Sheinbaum answers Hegseth",
            "Claudia Sheinbaum said Mexico would fight the cartels itself and rejected Hegseth's threat.",
            20_005,
        )),
        upsert(article(
            "baseball",
            "Baseball season opens",
            "The home team won the opening game of the baseball season.",
            20_003,
        )),
    ]
}

/// An engine over a new store holding `writes`, with the folder that keeps
/// the store alive.
fn stored(writes: &[Write]) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    engine.write(writes).unwrap();
    (dir, engine)
}

#[test]
fn related_excludes_self_collapses_copies_and_explains() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let out = engine.write(&corpus()).unwrap();
    assert_eq!(out.applied.len(), 6);
    let q = engine.query_for_id("q").unwrap();
    let picks = engine.related(&q, &RelatedOptions::default()).unwrap();
    let ids: Vec<&str> = picks.iter().map(|p| p.id.as_str()).collect();
    assert!(!ids.contains(&"q"), "{ids:?}");
    // Both copies of the query are collapsed away.
    assert!(!ids.contains(&"copy") && !ids.contains(&"copy2"), "{ids:?}");
    assert!(ids.contains(&"tariffs") && ids.contains(&"sheinbaum"), "{ids:?}");
    assert!(!ids.contains(&"baseball"), "{ids:?}");
    let s = picks.iter().find(|p| p.id == "sheinbaum").unwrap();
    assert!(s.why.entities.iter().any(|e| e.contains("Sheinbaum")), "{:?}", s.why);
    assert!(!s.why.summary.is_empty());
    assert!(s.why.signals.iter().any(|x| x.name == "text" && x.value > 0.0));
    assert!(picks.windows(2).all(|w| w[0].score >= w[1].score - 1e-6) || RelatedOptions::default().mmr_lambda < 1.0);
}

#[test]
fn unsaved_page_and_filters_and_copies_among_picks() {
    let (_dir, engine) = stored(&corpus());
    let page = article(
        "new",
        "Cartels and tariffs strain Mexico ties",
        "Hegseth and Sheinbaum clashed over cartels and tariffs.",
        20_020,
    );
    let q = Query::from_article(&page, false).unwrap();
    let picks = engine.related(&q, &RelatedOptions::default()).unwrap();
    let ids: Vec<&str> = picks.iter().map(|p| p.id.as_str()).collect();
    // Of the three copies of one story, exactly one is kept.
    let copies = ids.iter().filter(|i| ["q", "copy", "copy2"].contains(i)).count();
    assert_eq!(copies, 1, "{ids:?}");
    let mut opts = RelatedOptions::default();
    opts.filter.since = Some(20_009 * 86_400);
    let recent = engine.related(&q, &opts).unwrap();
    assert_eq!(recent.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["tariffs"]);
    opts.k = 0;
    assert!(engine.related(&q, &opts).unwrap().is_empty());
}

#[test]
fn index_catches_up_after_the_store_and_deletes_propagate() {
    let dir = tempfile::tempdir().unwrap();
    {
        // Writes applied to the store only, as if the process died before indexing.
        let store = readnext_store::Store::open(dir.path()).unwrap();
        store.apply_batch(&corpus()).unwrap();
    }
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.index().num_docs(), 6);
    assert_eq!(engine.index().applied_seq().unwrap(), engine.store().last_seq().unwrap());
    engine.write(&[Write::Delete("tariffs".into())]).unwrap();
    let q = engine.query_for_id("q").unwrap();
    let picks = engine.related(&q, &RelatedOptions::default()).unwrap();
    assert!(picks.iter().all(|p| p.id != "tariffs"));
    assert_eq!(engine.reindex().unwrap(), 5);
    assert!(matches!(engine.query_for_id("tariffs"), Err(crate::RecommendError::NotFound(_))));
}

#[test]
fn similarity_is_symmetric_and_orders_pairs() {
    let (_dir, engine) = stored(&corpus());
    let get = |id: &str| engine.query_for_id(id).unwrap();
    let (q, s, b) = (get("q"), get("sheinbaum"), get("baseball"));
    let o = RelatedOptions::default();
    let qs = engine.similarity(&q, &s, &o).unwrap();
    let sq = engine.similarity(&s, &q, &o).unwrap();
    let qb = engine.similarity(&q, &b, &o).unwrap();
    assert!((qs - sq).abs() < 1e-6);
    assert!(qs > qb, "{qs} {qb}");
}

#[test]
fn spanish_articles_match_and_explain_in_spanish() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let es = |id: &str, title: &str, body: &str| {
        let mut a = article(id, title, body, 18_000);
        a.lang = None;
        upsert(a)
    };
    engine
        .write(&[
            es("aranceles", "México responde a los aranceles", "El presidente Andrés Manuel López Obrador dijo que los aranceles de Estados Unidos a los productos mexicanos son injustos y que México negociará."),
            es("futbol", "El equipo gana la liga", "El equipo de futbol ganó el partido final de la liga con dos goles en el estadio."),
            es("negociacion", "Negociación sobre aranceles con Estados Unidos", "La delegación de México viajó a Washington para negociar los aranceles a los productos mexicanos con Estados Unidos."),
        ])
        .unwrap();
    assert_eq!(engine.store().get("aranceles").unwrap().unwrap().analysis.lang, "es");
    let q = engine.query_for_id("aranceles").unwrap();
    let picks = engine.related(&q, &RelatedOptions::default()).unwrap();
    assert_eq!(picks.first().map(|p| p.id.as_str()), Some("negociacion"));
    assert!(picks[0].why.summary.starts_with("También sobre "), "{:?}", picks[0].why);
    assert!(picks[0].why.entities.iter().any(|e| e == "Mexico" || e == "United States"), "{:?}", picks[0].why);
}

#[test]
fn bulk_writes_reach_the_index_even_when_the_process_dies_before_committing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::open(dir.path()).unwrap();
        engine.write_bulk(&corpus()).unwrap();
        // Stored, indexed in memory, not committed: a restart sees the old
        // commit (nothing) and must replay the store.
        assert_eq!(engine.store().len().unwrap(), 6);
        assert_eq!(engine.index().committed_seq().unwrap(), 0);
        // Dropped without `finish`, as a killed process would leave it.
    }
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.index().num_docs(), 6);
    assert_eq!(engine.index().committed_seq().unwrap(), engine.store().last_seq().unwrap());
    let picks = engine.related(&engine.query_for_id("q").unwrap(), &RelatedOptions::default()).unwrap();
    assert!(picks.iter().any(|p| p.id == "sheinbaum"), "{picks:?}");

    // After `finish`, a bulk write is committed and visible, also in a
    // block that was computed (and cached) before the commit.
    engine
        .write_bulk(&[upsert(article(
            "new",
            "Sheinbaum and Hegseth meet over the cartels",
            "Claudia Sheinbaum met Pete Hegseth in Mexico City to discuss the drug cartels and the border.",
            20_020,
        ))])
        .unwrap();
    let q = engine.query_for_id("q").unwrap();
    let before = engine.related(&q, &RelatedOptions::default()).unwrap();
    assert!(before.iter().all(|p| p.id != "new"), "not committed yet: {before:?}");
    engine.finish().unwrap();
    assert_eq!(engine.index().num_docs(), 7);
    let after = engine.related(&q, &RelatedOptions::default()).unwrap();
    assert!(after.iter().any(|p| p.id == "new"), "{after:?}");
}

fn ev(user: &str, article: &str, kind: readnext_core::EventKind, time_ms: i64) -> readnext_core::Event {
    readnext_core::Event { user: user.into(), article: article.into(), kind, time_ms, position: None, slate: vec![] }
}

#[test]
fn editorial_rules_apply_to_every_block() {
    let (_dir, engine) = stored(&corpus());
    let q = engine.query_for_id("q").unwrap();
    let opts = RelatedOptions { k: 3, ..Default::default() };
    assert!(engine.related(&q, &opts).unwrap().iter().any(|p| p.id == "sheinbaum"));
    engine
        .write(&[
            Write::Block("sheinbaum".into()),
            Write::SetPins { owner: "q".into(), pins: vec!["baseball".into(), "q".into(), "gone".into()] },
        ])
        .unwrap();
    let picks = engine.related(&q, &opts).unwrap();
    assert_eq!(picks[0].id, "baseball", "the pin comes first: {picks:?}");
    assert_eq!(picks[0].why.signals[0].name, "pinned");
    assert!(picks.iter().all(|p| p.id != "sheinbaum" && p.id != "q"), "{picks:?}");
    assert!(picks.len() <= 3);
    // Another article's block has no pin but keeps the block rule.
    let t = engine.related(&engine.query_for_id("tariffs").unwrap(), &opts).unwrap();
    assert!(t.iter().all(|p| p.id != "sheinbaum" && p.id != "baseball"), "{t:?}");
}

#[test]
fn trending_and_reader_blocks_follow_events_and_skip_what_was_read() {
    use readnext_core::EventKind::{Click, Impression};
    let (_dir, engine) = stored(&corpus());
    // The counters reach back 30 days from the clock.
    let now = crate::now_ms();
    let hour = 3_600_000;
    engine
        .record_events(&[
            ev("ana", "q", Click, now - hour),
            ev("bob", "baseball", Click, now - 2 * hour),
            ev("cy", "baseball", Click, now - 3 * hour),
            ev("cy", "tariffs", Click, now - hour),
            ev("cy", "sheinbaum", Impression, now - hour),
            ev("old", "sheinbaum", Click, now - 100 * hour),
        ])
        .unwrap();
    let t = engine.trending(3, now, 24 * hour).unwrap();
    let ids: Vec<&str> = t.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["baseball", "q", "tariffs",], "two reads beat one; older than the window is out");
    assert!(t[0].why.summary.contains("2 reads"), "{}", t[0].why.summary);

    let opts = crate::UserOptions { k: 3, anchor: None, now_ms: now, window_ms: 24 * hour };
    let ana = engine.for_user("ana", &opts).unwrap();
    assert!(ana.iter().all(|p| p.id != "q"), "already read: {ana:?}");
    assert!(ana[0].why.summary.starts_with("Because you read"), "{:?}", ana[0].why);
    assert!(["sheinbaum", "tariffs"].contains(&ana[0].id.as_str()), "{ana:?}");
    // A reader without history gets trending articles.
    let new = engine.for_user("nobody", &opts).unwrap();
    assert_eq!(new[0].id, "baseball");
    // Forgotten, ana is a new reader again.
    engine.forget("ana").unwrap();
    assert_eq!(engine.for_user("ana", &opts).unwrap()[0].id, "baseball");
}

#[test]
fn a_trained_ranker_orders_reader_blocks() {
    use readnext_core::EventKind::{Click, Impression};
    let (_dir, engine) = stored(&corpus());
    assert!(engine.ranker().unwrap().is_none());
    let mut events = Vec::new();
    for (i, user) in ["a", "b", "c", "d"].iter().enumerate() {
        let t = 1_000_000 + i as i64 * 10_000;
        events.push(ev(user, "q", Click, t));
        events.push(ev(user, "sheinbaum", Impression, t + 1000));
        events.push(ev(user, "baseball", Impression, t + 1000));
        events.push(ev(user, "sheinbaum", Click, t + 2000));
    }
    engine.record_events(&events).unwrap();
    let report = engine.train_ranker(1e-3, 200).unwrap();
    assert_eq!((report.slates, report.model.examples, report.model.positives), (4, 8, 4));
    let model = engine.ranker().unwrap().expect("stored");
    assert_eq!(model, report.model);
    let opts = crate::UserOptions { k: 3, anchor: None, now_ms: 2_000_000, window_ms: 86_400_000 };
    let picks = engine.for_user("a", &opts).unwrap();
    assert!(picks.iter().all(|p| p.id != "q" && p.id != "sheinbaum"), "read articles stay out: {picks:?}");
    assert!(picks[0].why.signals.iter().any(|s| s.name == "ranker"), "{:?}", picks[0].why);
}

/// A unit vector of the engine's size pointing mostly along `axis`.
fn unit_vector(axis: usize, tilt: f32) -> Vec<f32> {
    let mut v = vec![0.0f32; readnext_embed::DIM];
    v[axis] = 1.0;
    v[(axis + 1) % readnext_embed::DIM] = tilt;
    let n = (1.0 + tilt * tilt).sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn upsert_with_vector(a: Article, v: Vec<f32>) -> Write {
    let analysis = analyze(&a).unwrap();
    Write::Upsert(Box::new(Record { article: a, analysis, vector: Some(v) }))
}

/// Two stories told in other words: no word in common, close vectors.
fn hybrid_corpus() -> Vec<Write> {
    vec![
        upsert_with_vector(
            article("q", "Hegseth threatens to enter Mexico militarily", CARTELS, 20_000),
            unit_vector(0, 0.0),
        ),
        upsert_with_vector(
            article(
                "fto",
                "Designating cartels as foreign terrorist organizations",
                "The State Department listed six criminal groups as foreign terrorist organizations.",
                20_001,
            ),
            unit_vector(0, 0.3),
        ),
        upsert_with_vector(
            article("baseball", "Baseball season opens", "The home team won the opening game.", 20_003),
            unit_vector(5, 0.0),
        ),
    ]
}

#[test]
fn dense_retrieval_finds_the_same_story_in_other_words_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    engine.write(&hybrid_corpus()).unwrap();
    assert_eq!(engine.dense().len(), 3);
    let q = engine.query_for_id("q").unwrap();
    assert!(q.vector.is_some(), "a stored query carries its stored vector");
    let picks = engine.related(&q, &RelatedOptions::default()).unwrap();
    let fto = picks.iter().find(|p| p.id == "fto").expect("the dense neighbour is picked");
    assert_eq!(picks[0].id, "fto");
    let signal = |name: &str| fto.why.signals.iter().find(|s| s.name == name).map(|s| s.value);
    assert_eq!(signal("dense_rank"), Some(1.0));
    assert!(signal("dense").unwrap() > 0.9);
    // Cartels are shared, so the why names it first; the fusion is in the signals.
    assert!(!fto.why.summary.is_empty());
    // Lexical-only options lose it: nothing but "cartels" is shared.
    let lexical = RelatedOptions { weights: crate::Weights::default().lexical(), ..Default::default() };
    let lex = engine.related(&q, &lexical).unwrap();
    let lex_score = lex.iter().find(|p| p.id == "fto").map_or(0.0, |p| p.score);
    assert!(fto.score > lex_score, "{} vs {lex_score}", fto.score);
}

#[test]
fn the_dense_index_follows_updates_deletes_and_is_rebuilt_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::open(dir.path()).unwrap();
        engine.write(&hybrid_corpus()).unwrap();
        // A changed article without a new vector loses its stale one.
        engine.write(&[upsert(article("fto", "Cartels listed", "A different text now.", 20_001))]).unwrap();
        assert_eq!(engine.dense().len(), 2);
        assert_eq!(engine.store().vectors(&["fto"]).unwrap(), vec![None]);
        engine.write(&[Write::Delete("baseball".into())]).unwrap();
        assert_eq!(engine.dense().len(), 1);
        let q = engine.query_for_id("q").unwrap();
        let near = engine.dense().search(q.vector.as_deref().unwrap(), 5, &Default::default(), None).unwrap();
        assert_eq!(near.iter().map(|n| n.0.as_str()).collect::<Vec<_>>(), ["q"]);
    }
    // Saved on drop and reopened as it was.
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.dense().len(), 1);
    drop(engine);
    // The derived index is deleted: the next open rebuilds it from the store.
    std::fs::remove_dir_all(dir.path().join("dense")).unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.dense().len(), 1);
    assert_eq!(engine.dense().applied_seq(), engine.store().last_seq().unwrap());
    // A vector arriving for an unchanged article is a change the index sees.
    let fto = engine.store().get("fto").unwrap().unwrap();
    let stored = engine.store().put_vectors(&[("fto".into(), unit_vector(0, 0.3))]).unwrap();
    assert_eq!(stored, 1);
    engine.sync_index().unwrap();
    assert_eq!(engine.dense().len(), 2);
    let again = Record { vector: None, ..fto };
    let applied = engine.write(&[Write::Upsert(Box::new(again))]).unwrap().applied;
    assert_eq!(applied, [readnext_store::Applied::Unchanged]);
    assert_eq!(engine.dense().len(), 2, "an unchanged article keeps its vector");
}

#[test]
fn a_readers_taste_brings_stories_in_other_words_and_names_the_read_behind_them() {
    use readnext_core::EventKind::Click;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let mut writes = hybrid_corpus();
    // Shares no word with the baseball story; its vector is next to it.
    writes.push(upsert_with_vector(
        article(
            "pitcher",
            "Rookie pitcher signs record contract",
            "A left-hander agreed terms for five years.",
            20_004,
        ),
        unit_vector(5, 0.25),
    ));
    engine.write(&writes).unwrap();
    let now = 20_010 * 86_400_000;
    engine.record_events(&[ev("ana", "baseball", Click, now - 1_000)]).unwrap();
    assert!(engine.store().taste("ana").unwrap().is_some());
    let opts = crate::UserOptions { k: 3, anchor: None, now_ms: now, window_ms: 86_400_000 };
    let picks = engine.for_user("ana", &opts).unwrap();
    assert!(picks.iter().all(|p| p.id != "baseball"), "already read: {picks:?}");
    assert_eq!(picks[0].id, "pitcher", "{picks:?}");
    let taste = picks[0].why.signals.iter().find(|s| s.name == "taste").map(|s| s.value);
    assert!(taste.unwrap() > 0.9, "{:?}", picks[0].why);
    assert!(
        picks[0].why.summary.starts_with("Because you read \u{201c}Baseball season opens\u{201d}"),
        "{}",
        picks[0].why.summary
    );
    // Blocked articles stay out of taste picks too.
    engine.write(&[Write::Block("pitcher".into())]).unwrap();
    assert!(engine.for_user("ana", &opts).unwrap().iter().all(|p| p.id != "pitcher"));
    // Forgotten, nothing of the taste remains to draw on.
    engine.forget("ana").unwrap();
    assert_eq!(engine.store().taste("ana").unwrap(), None);
}

#[test]
fn reader_blocks_offer_new_articles_but_never_read_or_future_ones() {
    use readnext_core::EventKind::Click;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let mut writes = corpus();
    writes.push(upsert(article("today", "Storm closes schools", "Schools closed for the storm.", 30_000)));
    writes.push(upsert(article("tomorrow", "Embargoed lottery numbers", "Numbers drawn next week.", 30_001)));
    writes.push(upsert(article("read", "Parliament votes", "The parliament voted on the budget.", 30_000)));
    engine.write(&writes).unwrap();
    let now = 30_000 * 86_400_000 + 3_600_000;
    engine.record_events(&[ev("ana", "read", Click, now - 1_000)]).unwrap();
    let opts = crate::UserOptions { k: 8, anchor: None, now_ms: now, window_ms: 86_400_000 };
    let picks = engine.for_user("ana", &opts).unwrap();
    let today = picks.iter().find(|p| p.id == "today").expect("today's article is offered");
    assert!(today.why.summary.starts_with("New: published"), "{:?}", today.why);
    let fresh = today.why.signals.iter().find(|s| s.name == "fresh").map(|s| s.value).unwrap();
    assert!(fresh > 0.9 && fresh <= 1.0, "{fresh}");
    assert!(picks.iter().all(|p| p.id != "read" && p.id != "tomorrow"), "{picks:?}");
}

#[test]
fn the_same_story_in_another_language_is_weighed_up_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    // Long enough (over 100 words) for the detected language to count.
    let es_body = "La presidenta Claudia Sheinbaum dijo que México responderá a los aranceles que Donald Trump \
        anunció contra los productos mexicanos, y que su gobierno defenderá a los trabajadores.\n\n";
    let en_body = "President Claudia Sheinbaum said Mexico will answer the tariffs Donald Trump announced on \
        Mexican goods, and that her government will stand by the workers.\n\n";
    let mut es =
        article("es", "Claudia Sheinbaum responde a los aranceles de Donald Trump", &es_body.repeat(5), 20_000);
    es.lang = None;
    let en = article("en", "Claudia Sheinbaum answers Donald Trump's tariffs", &en_body.repeat(5), 20_000);
    // The same two stories in a headline and a sentence: their detected
    // languages are guesses, and weigh nothing.
    let mut es_short = article("es-short", "Sheinbaum responde a los aranceles de Trump", es_body.trim_end(), 20_000);
    es_short.lang = Some("es".into());
    let en_short = article("en-short", "Sheinbaum answers Trump's tariffs", en_body.trim_end(), 20_000);
    // A given language is no guess, however short the text.
    let mut en_given = article("en-given", "Sheinbaum answers the tariffs", en_body.trim_end(), 20_000);
    en_given.lang = Some("en".into());
    engine.write(&[upsert(es), upsert(en), upsert(es_short), upsert(en_short), upsert(en_given)]).unwrap();
    assert_eq!(engine.store().get("es").unwrap().unwrap().analysis.lang, "es");
    let plain =
        RelatedOptions { weights: crate::Weights { cross_lingual: 1.0, ..Default::default() }, ..Default::default() };
    let factor = crate::Weights::default().cross_lingual;
    let (a, b) = (engine.query_for_id("en").unwrap(), engine.query_for_id("es").unwrap());
    let base = engine.similarity(&a, &b, &plain).unwrap();
    let weighed = engine.similarity(&a, &b, &RelatedOptions::default()).unwrap();
    assert!(base > 0.0, "the names carry the match across languages");
    assert!((weighed - base * factor).abs() < 1e-4, "{weighed} vs {base} x {factor}");
    // related() scores the same way, and says the pick is in another language.
    let picks = engine.related(&a, &RelatedOptions::default()).unwrap();
    assert_eq!(picks[0].id, "es");
    assert!(picks[0].why.signals.iter().any(|s| s.name == "cross_lingual"), "{:?}", picks[0].why);

    let (a, b) = (engine.query_for_id("en-short").unwrap(), engine.query_for_id("es-short").unwrap());
    assert_eq!(engine.store().get("es-short").unwrap().unwrap().analysis.lang, "es", "kept for stemming");
    let base = engine.similarity(&a, &b, &plain).unwrap();
    assert!(base > 0.0);
    assert_eq!(engine.similarity(&a, &b, &RelatedOptions::default()).unwrap(), base, "a short text is not weighed up");
    let picks = engine.related(&a, &RelatedOptions::default()).unwrap();
    assert!(picks.iter().all(|p| p.why.signals.iter().all(|s| s.name != "cross_lingual")), "{picks:?}");

    let a = engine.query_for_id("en-given").unwrap();
    let base = engine.similarity(&a, &b, &plain).unwrap();
    let weighed = engine.similarity(&a, &b, &RelatedOptions::default()).unwrap();
    assert!(base > 0.0 && (weighed - base * factor).abs() < 1e-4, "{weighed} vs {base} x {factor}");
}

#[test]
fn the_ranker_flags_sections_new_to_the_reader_and_weighs_section_signals_by_the_reads() {
    let feature = |name: &str| crate::FEATURE_NAMES.iter().position(|f| *f == name).unwrap();
    let (section_new, subsection_new) = (feature("section_new"), feature("subsection_new"));
    let with = |id: &str, section: &str, sub: &str| {
        let mut a = article(id, &format!("{id} story"), "A story about something.", 20_000);
        a.section = Some(section.into());
        a.tags = vec![sub.into()];
        upsert(a)
    };
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    engine
        .write(&[
            with("read", "politics", "congress"),
            with("read2", "business", "markets"),
            with("same", "politics", "congress"),
            with("sibling", "politics", "elections"),
            with("other", "sports", "baseball"),
        ])
        .unwrap();
    let slate: Vec<String> = ["same", "sibling", "other"].iter().map(|s| s.to_string()).collect();
    let pop = crate::Popularity::default();
    let rows = engine.slate_features(&["read".to_string()], &slate, &pop, None).unwrap();
    let flags: Vec<(f32, f32)> = rows.iter().map(|r| (r[section_new], r[subsection_new])).collect();
    assert_eq!(flags, vec![(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]);
    // Over two reads, the section signals also come divided by the reads.
    let (affinity, affinity_thin, new_thin) =
        (feature("section_affinity"), feature("section_affinity_thin"), feature("section_new_thin"));
    let two = ["read".to_string(), "read2".to_string()];
    let rows = engine.slate_features(&two, &slate, &pop, None).unwrap();
    let thin: Vec<(f32, f32, f32)> = rows.iter().map(|r| (r[affinity], r[affinity_thin], r[new_thin])).collect();
    assert_eq!(thin, vec![(0.5, 0.25, 0.0), (0.5, 0.25, 0.0), (0.0, 0.0, 0.5)]);
    // A reader with no history has no habits to break: nothing is new.
    let rows = engine.slate_features(&[], &slate, &pop, None).unwrap();
    assert!(rows.iter().all(|r| r[section_new] == 0.0 && r[subsection_new] == 0.0));
}

/// A follow-up of the corpus's tariffs story.
fn follow_up() -> Write {
    upsert(article(
        "tariffs-2",
        "Tariffs on Mexican products take effect",
        "The tariffs on Mexican products took effect. Sheinbaum answered with tariffs of her own.",
        20_011,
    ))
}

/// Every stored article's block, as (id, [(pick, score bits)]).
fn all_blocks(engine: &Engine) -> Vec<(String, Vec<(String, u32)>)> {
    let opts = RelatedOptions::default();
    engine
        .store()
        .ids_after(None, 1000)
        .unwrap()
        .into_iter()
        .map(|id| {
            let picks = engine.related(&engine.query_for_id(&id).unwrap(), &opts).unwrap();
            (id, picks.into_iter().map(|p| (p.id, p.score.to_bits())).collect())
        })
        .collect()
}

#[test]
fn two_stores_with_the_same_articles_give_identical_blocks_whatever_their_history() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let docs = corpus();
    {
        let a = Engine::open(d1.path()).unwrap();
        a.write(&docs).unwrap();
    }
    {
        // Reverse order, one article at a time, with blocks read in between
        // (so that caches fill), a delete and re-insert, an update undone,
        // and an article written and deleted again.
        let b = Engine::open(d2.path()).unwrap();
        for w in docs.iter().rev() {
            b.write(std::slice::from_ref(w)).unwrap();
            all_blocks(&b);
        }
        b.write(&[Write::Delete("tariffs".into())]).unwrap();
        b.write(&[upsert(article("sheinbaum", "Sheinbaum", "Something else entirely about baseball.", 20_005))])
            .unwrap();
        b.write(&[upsert(article("extra", "Cartels and tariffs", "Cartels, tariffs and Sheinbaum.", 20_006))]).unwrap();
        all_blocks(&b);
        b.write(&[Write::Delete("extra".into())]).unwrap();
        b.write(&docs[3..5]).unwrap();
    }
    let (a, b) = (Engine::open(d1.path()).unwrap(), Engine::open(d2.path()).unwrap());
    assert_eq!(a.stats().docs, 6);
    assert_eq!(a.stats().term_df, b.stats().term_df);
    assert_eq!(a.stats().entity_df, b.stats().entity_df);
    assert_eq!(all_blocks(&a), all_blocks(&b), "the same articles, the same blocks, to the bit");
}

#[test]
fn a_write_drops_only_the_blocks_it_can_change_and_a_follow_up_enters_its_storys_block() {
    let (_dir, engine) = stored(&corpus());
    let opts = RelatedOptions::default();
    let ids = ["q", "copy", "copy2", "tariffs", "sheinbaum", "baseball"];
    for id in ids {
        engine.related(&engine.query_for_id(id).unwrap(), &opts).unwrap();
    }
    assert!(ids.iter().all(|id| engine.is_cached(id, &opts)));
    // A follow-up of the tariffs story: its block is cached again at once
    // on the next read, and shows the follow-up.
    engine.write(&[follow_up()]).unwrap();
    assert!(!engine.is_cached("tariffs", &opts), "the follow-up's neighbour lost its block");
    assert!(engine.is_cached("baseball", &opts), "an unrelated block is kept");
    let t = engine.related(&engine.query_for_id("tariffs").unwrap(), &opts).unwrap();
    assert!(t.iter().any(|p| p.id == "tariffs-2"), "{t:?}");
    // A changed article leaves every block that showed it.
    let showing: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| {
            engine.related(&engine.query_for_id(id).unwrap(), &opts).unwrap().iter().any(|p| p.id == "sheinbaum")
        })
        .collect();
    assert!(!showing.is_empty());
    engine.write(&[Write::Delete("sheinbaum".into())]).unwrap();
    for id in &showing {
        assert!(!engine.is_cached(id, &opts), "{id} showed the deleted article");
        let picks = engine.related(&engine.query_for_id(id).unwrap(), &opts).unwrap();
        assert!(picks.iter().all(|p| p.id != "sheinbaum"), "{picks:?}");
    }
    assert!(engine.is_cached("baseball", &opts));
    // A block rule drops the blocks that show the article, and no other.
    engine.related(&engine.query_for_id("q").unwrap(), &opts).unwrap();
    engine.write(&[Write::Block("tariffs-2".into())]).unwrap();
    assert!(engine.is_cached("baseball", &opts));
    let t = engine.related(&engine.query_for_id("tariffs").unwrap(), &opts).unwrap();
    assert!(t.iter().all(|p| p.id != "tariffs-2"), "{t:?}");
    // Unblocked, it comes back.
    engine.write(&[Write::Unblock("tariffs-2".into())]).unwrap();
    let t = engine.related(&engine.query_for_id("tariffs").unwrap(), &opts).unwrap();
    assert!(t.iter().any(|p| p.id == "tariffs-2"), "{t:?}");
}

#[test]
fn replayed_events_change_no_profile_taste_or_trending_count() {
    use readnext_core::EventKind::Click;
    let (dir, engine) = stored(&corpus());
    let now = crate::now_ms();
    let events = Write::Events(vec![ev("ana", "tariffs", Click, now - 1000), ev("bob", "tariffs", Click, now - 500)]);
    let first = engine.store().applied_position().unwrap() + 1;
    engine.write_at(first, std::slice::from_ref(&events)).unwrap();
    let trending = |e: &Engine| e.trending(3, now, 3_600_000).unwrap()[0].why.signals.clone();
    let (profile, before) = (engine.store().profile("ana").unwrap(), trending(&engine));
    assert_eq!(before[1].value, 2.0, "two clicks: {before:?}");
    // The log delivers the same write again.
    let again = engine.write_at(first, std::slice::from_ref(&events)).unwrap();
    assert_eq!(again.applied, [readnext_store::Applied::Replayed]);
    assert_eq!(engine.store().profile("ana").unwrap(), profile);
    assert_eq!(trending(&engine), before);
    assert_eq!(engine.store().event_count().unwrap(), 2);
    // Reopened, the counters are rebuilt from the store: still two.
    drop(engine);
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(trending(&engine), before);
    // Forgetting a reader takes their click out of trending at once.
    engine.forget("ana").unwrap();
    assert_eq!(trending(&engine)[1].value, 1.0);
}

#[test]
fn the_warm_queue_holds_what_a_write_dropped_and_a_new_article_once_searchable() {
    let (_dir, engine) = stored(&corpus());
    let opts = RelatedOptions::default();
    let ids = ["q", "copy", "copy2", "tariffs", "sheinbaum", "baseball"];
    for id in ids {
        engine.related(&engine.query_for_id(id).unwrap(), &opts).unwrap();
    }
    // The stored articles were queued as they became searchable; their
    // blocks are cached now, so taking them computes nothing.
    assert_eq!(engine.warm_queued(100, &opts).unwrap(), ids.len());
    assert_eq!(engine.warm_queued(100, &opts).unwrap(), 0, "nothing dropped yet");
    engine.write(&[Write::Delete("sheinbaum".into())]).unwrap();
    let dropped: Vec<&str> = ids.iter().copied().filter(|id| !engine.is_cached(id, &opts)).collect();
    assert!(dropped.len() >= 2, "the deleted article's block and one that showed it: {dropped:?}");
    assert_eq!(engine.warm_queued(100, &opts).unwrap(), dropped.len());
    for id in ids.iter().filter(|id| **id != "sheinbaum") {
        assert!(engine.is_cached(id, &opts), "{id} is warm again");
    }
    // A deferred article is queued at the commit that makes it searchable.
    engine.write_deferred(&[follow_up()]).unwrap();
    assert_eq!(engine.warm_queued(100, &opts).unwrap(), 0);
    std::thread::sleep(std::time::Duration::from_millis(crate::COMMIT_INTERVAL_MS + 50));
    engine.commit_pending().unwrap();
    assert!(engine.warm_queued(100, &opts).unwrap() >= 1);
    assert!(engine.is_cached("tariffs-2", &opts));
    // A bulk write drops every block and asks for a walk instead.
    let clears = engine.blocks_clears();
    engine
        .write_bulk(&[upsert(article("bulk", "Baseball final", "The final baseball game went late.", 20_012))])
        .unwrap();
    assert_eq!(engine.blocks_clears(), clears + 1);
}

#[test]
fn a_deferred_write_reaches_its_neighbours_blocks_at_the_next_commit() {
    let (_dir, engine) = stored(&corpus());
    let opts = RelatedOptions::default();
    let tariffs = engine.query_for_id("tariffs").unwrap();
    engine.related(&tariffs, &opts).unwrap();
    engine.write_deferred(&[follow_up()]).unwrap();
    // Durable and readable at once; not yet searchable by its words.
    assert!(engine.store().get("tariffs-2").unwrap().is_some());
    assert!(engine.is_cached("tariffs", &opts));
    std::thread::sleep(std::time::Duration::from_millis(crate::COMMIT_INTERVAL_MS + 50));
    assert_eq!(engine.commit_pending().unwrap(), 1);
    assert_eq!(engine.commit_pending().unwrap(), 0, "nothing left to commit");
    assert!(!engine.is_cached("tariffs", &opts), "its neighbour's block is stale");
    assert_eq!(engine.stale_blocks(), 1);
    // With a refresher, the stale block is recomputed in the background.
    assert_eq!(engine.refresh_stale(10).unwrap(), 1);
    assert!(engine.is_cached("tariffs", &opts));
    let t = engine.related(&tariffs, &opts).unwrap();
    assert!(t.iter().any(|p| p.id == "tariffs-2"), "{t:?}");
}

#[test]
fn a_deferred_batch_too_large_for_neighbours_is_still_committed() {
    let (_dir, engine) = stored(&corpus());
    let many: Vec<Write> = (0..70)
        .map(|i| upsert(article(&format!("n{i}"), &format!("Note {i}"), &format!("Harbour note number {i}."), 20_100)))
        .collect();
    engine.write_deferred(&many).unwrap();
    assert!(engine.index().committed_seq().unwrap() < engine.store().last_seq().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(crate::COMMIT_INTERVAL_MS + 50));
    engine.commit_pending().unwrap();
    assert_eq!(engine.index().committed_seq().unwrap(), engine.store().last_seq().unwrap());
}

/// Waits out the commit interval and commits the deferred writes.
fn commit_now(engine: &Engine) {
    std::thread::sleep(std::time::Duration::from_millis(crate::COMMIT_INTERVAL_MS + 20));
    engine.commit_pending().unwrap();
}

#[test]
fn a_block_read_before_the_commit_that_makes_its_neighbours_searchable_is_not_kept() {
    // What a node replaying the log goes through: its warmer and its
    // readers compute blocks while deferred writes wait for their commit.
    let opts = RelatedOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let docs = corpus();
    // One write of several articles: the block of one of them, read before
    // the commit, searched without the others.
    engine.write_deferred(&docs[..5]).unwrap();
    let before = engine.related(&engine.query_for_id("q").unwrap(), &opts).unwrap();
    assert!(before.is_empty(), "nothing searchable yet: {before:?}");
    commit_now(&engine);
    let after = engine.related(&engine.query_for_id("q").unwrap(), &opts).unwrap();
    assert!(after.iter().any(|p| p.id == "sheinbaum"), "the commit reached the block: {after:?}");
    // A batch too large to rank for neighbours: every block read before its
    // commit goes at the commit.
    let notes: Vec<Write> = (0..70)
        .map(|i| {
            upsert(article(
                &format!("n{i}"),
                &format!("Cartel note {i}"),
                &format!("{CARTELS} Note number {i}."),
                20_100,
            ))
        })
        .collect();
    engine.write_deferred(&notes).unwrap();
    let stale = engine.related(&engine.query_for_id("q").unwrap(), &opts).unwrap();
    assert!(stale.iter().all(|p| !p.id.starts_with('n')), "not searchable yet: {stale:?}");
    assert!(engine.is_cached("q", &opts));
    commit_now(&engine);
    assert!(!engine.is_cached("q", &opts), "dropped at the commit");
    let fresh = engine.related(&engine.query_for_id("q").unwrap(), &opts).unwrap();
    assert!(fresh.iter().any(|p| p.id.starts_with('n')), "{fresh:?}");
}

#[test]
fn blocks_cached_through_deferred_writes_and_commits_equal_a_fresh_engines() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut docs = corpus();
    docs.push(follow_up());
    docs.extend((0..66).map(|i| {
        upsert(article(
            &format!("h{i}"),
            &format!("Harbour {i}"),
            &format!("Harbour cranes and ferries, note {i}."),
            20_050,
        ))
    }));
    {
        let a = Engine::open(d1.path()).unwrap();
        a.write(&docs).unwrap();
    }
    let b = Engine::open(d2.path()).unwrap();
    // One article at a time, a large batch, and a few more, each deferred,
    // with every block read in between and a commit now and then.
    for (i, w) in docs[..4].iter().enumerate() {
        b.write_deferred(std::slice::from_ref(w)).unwrap();
        all_blocks(&b);
        if i % 2 == 1 {
            commit_now(&b);
            all_blocks(&b);
        }
    }
    b.write_deferred(&docs[7..]).unwrap();
    all_blocks(&b);
    b.write_deferred(&docs[4..7]).unwrap();
    all_blocks(&b);
    commit_now(&b);
    let a = Engine::open(d1.path()).unwrap();
    let ids = |blocks: Vec<(String, Vec<(String, u32)>)>| -> Vec<(String, Vec<String>)> {
        blocks.into_iter().map(|(o, b)| (o, b.into_iter().map(|(id, _)| id).collect())).collect()
    };
    assert_eq!(
        ids(all_blocks(&b)),
        ids(all_blocks(&a)),
        "what the cache serves after the commit is what a fresh engine computes"
    );
}

#[test]
fn a_block_is_recomputed_once_the_corpus_moved_past_its_statistics() {
    let (_dir, engine) = stored(&corpus());
    engine.set_drift_budget(20.0, 200.0);
    let opts = RelatedOptions::default();
    let q = engine.query_for_id("q").unwrap();
    engine.related(&q, &opts).unwrap();
    let notes = |from: usize| -> Vec<Write> {
        (from..from + 60)
            .map(|i| {
                upsert(article(
                    &format!("n{i}"),
                    &format!("Gardening {i}"),
                    &format!("Roses and tulips, tip {i}."),
                    20_200,
                ))
            })
            .collect()
    };
    // Unrelated articles enter no block: the first 60 leave it cached.
    engine.write(&notes(0)).unwrap();
    assert!(engine.is_cached("q", &opts));
    // 120 more than it was computed on: its statistics moved too far.
    engine.write(&notes(60)).unwrap();
    assert!(!engine.is_cached("q", &opts), "drifted");
    // A single node's default: served as it is.
    engine.set_drift_budget(0.0, 0.0);
    engine.related(&q, &opts).unwrap();
    assert!(!engine.is_cached("q", &opts));
    engine.set_drift_budget(20.0, 200.0);
    engine.related(&q, &opts).unwrap();
    assert!(engine.is_cached("q", &opts), "recomputed on the read that found it (within the budget)");
}

/// Forty notes of one harbour, each on its own three of a dozen topics, so
/// that every block's diversity pool is full.
fn harbour() -> Vec<Write> {
    const TOPICS: [&str; 12] = [
        "ferries",
        "cranes",
        "dredging",
        "fishermen",
        "tariffs",
        "storms",
        "pilots",
        "containers",
        "lighthouse",
        "strikes",
        "tugboats",
        "customs",
    ];
    let triples: Vec<(usize, usize, usize)> =
        (0..12).flat_map(|a| (a + 1..12).flat_map(move |b| (b + 1..12).map(move |c| (a, b, c)))).collect();
    (0..40)
        .map(|i| {
            let (a, b, c) = triples[i * 5 % triples.len()];
            let (a, b, c) = (TOPICS[a], TOPICS[b], TOPICS[c]);
            upsert(article(
                &format!("h{i:02}"),
                &format!("Harbour board on {a} and {b}"),
                &format!(
                    "The harbour board met about the {a} and the {b}. Members also raised the {c} at the harbour."
                ),
                20_000 + i as i64,
            ))
        })
        .collect()
}

#[test]
fn a_new_article_makes_stale_only_the_blocks_it_enters() {
    let docs = harbour();
    let (_dir, engine) = stored(&docs);
    let ids = engine.store().ids_after(None, 1000).unwrap();
    all_blocks(&engine);
    assert!(ids.iter().all(|id| engine.is_cached(id, &RelatedOptions::default())));
    // Close to a few notes, not to all.
    let f = upsert(article(
        "h-new",
        "Harbour board on pilots and cranes",
        "The pilots and the cranes again: the pilots walked out over the cranes, said the harbour board.",
        20_041,
    ));
    engine.write(std::slice::from_ref(&f)).unwrap();
    let stale: Vec<String> =
        ids.iter().filter(|id| !engine.is_cached(id, &RelatedOptions::default())).cloned().collect();
    assert!(!stale.is_empty(), "the follow-up enters some block");
    assert!(stale.len() <= 4, "{} of {} made stale: {stale:?}", stale.len(), ids.len());
    // Every block the follow-up now belongs in was marked: a store built
    // afresh with it says which, and the served blocks agree.
    let (_fresh_dir, fresh) = stored(&docs);
    fresh.write(&[f]).unwrap();
    let shows = |blocks: Vec<(String, Vec<(String, u32)>)>| -> Vec<String> {
        blocks.into_iter().filter(|(_, b)| b.iter().any(|(p, _)| p == "h-new")).map(|(o, _)| o).collect()
    };
    let truth = shows(all_blocks(&fresh));
    assert!(!truth.is_empty());
    for o in &truth {
        assert!(stale.contains(o) || o == "h-new", "{o} should show the follow-up but was not marked stale");
    }
    assert_eq!(shows(all_blocks(&engine)), truth);
}

#[test]
fn a_cached_block_is_served_by_id_with_its_headline_and_never_when_stale() {
    let (_dir, engine) = stored(&corpus());
    let opts = RelatedOptions::default();
    assert!(engine.cached_related("tariffs", &opts).is_none(), "nothing computed yet");
    let (title, picks) = engine.related_to_id("tariffs", &opts).unwrap();
    assert_eq!(title, "Tariffs on Mexican products take effect");
    assert_eq!(engine.cached_related("tariffs", &opts), Some((title, picks)));
    // The follow-up enters the block: the cached one is stale, and the
    // next read by id computes the block that shows it.
    engine.write(&[follow_up()]).unwrap();
    assert!(engine.cached_related("tariffs", &opts).is_none());
    let (_, picks) = engine.related_to_id("tariffs", &opts).unwrap();
    assert!(picks.iter().any(|p| p.id == "tariffs-2"), "{picks:?}");
    // A new headline is served with the block at once.
    engine
        .write(&[upsert(article("tariffs", "Tariffs take effect at last", "The tariffs on Mexican products.", 20_010))])
        .unwrap();
    assert_eq!(engine.related_to_id("tariffs", &opts).unwrap().0, "Tariffs take effect at last");
    assert!(matches!(engine.related_to_id("nope", &opts), Err(crate::RecommendError::NotFound(_))));
}

/// Every stored article's story id, by article id.
fn story_ids(engine: &Engine, ids: &[&str]) -> Vec<(String, String)> {
    ids.iter().map(|id| (id.to_string(), engine.story_of_article(id, 0).unwrap().id)).collect()
}

const IDS: [&str; 6] = ["q", "copy", "copy2", "tariffs", "sheinbaum", "baseball"];

#[test]
fn stories_kept_by_the_write_path_equal_a_rebuild_and_keep_their_ids_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let writes = corpus();
    let live = {
        let engine = Engine::open(dir.path()).unwrap();
        // Built on the first two, then moved by each write: in order, out
        // of order (sheinbaum is older than tariffs) and a rewrite.
        engine.write(&writes[..2]).unwrap();
        assert_eq!(engine.build_stories().unwrap(), 1);
        for w in &writes[2..] {
            engine.write(std::slice::from_ref(w)).unwrap();
        }
        engine.write(&writes[3..4]).unwrap();
        story_ids(&engine, &IDS)
    };
    let rebuilt = story_ids(&Engine::open(dir.path()).unwrap(), &IDS);
    assert_eq!(live, rebuilt, "the incremental path and a rebuild after a restart agree, ids included");
    let story = |id: &str| live.iter().find(|(a, _)| a == id).map(|(_, s)| s.as_str()).unwrap();
    assert_eq!(story("copy"), "q", "a story's id is its first article's");
    assert_eq!(story("sheinbaum"), "q");
    assert_eq!(story("baseball"), "baseball");
}

#[test]
fn a_story_has_a_timeline_in_time_order_with_copies_collapsed_and_a_deleted_article_leaves_it() {
    let (_dir, engine) = stored(&corpus());
    let s = engine.story_of_article("sheinbaum", 0).unwrap();
    assert_eq!(s.id, "q");
    let dates: Vec<&str> = s.timeline.iter().filter_map(|e| e.published.as_deref()).collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted, "{:?}", s.timeline);
    let q = s.timeline.iter().find(|e| e.id == "q").unwrap();
    assert!(q.copies.contains(&"copy2".to_string()), "an identical copy is counted on the first entry: {q:?}");
    assert!(s.timeline.iter().all(|e| e.id != "copy2"));
    assert_eq!(s.articles, s.timeline.len() + s.timeline.iter().map(|e| e.copies.len()).sum::<usize>());
    assert!(s.entities.iter().any(|e| e.contains("Hegseth")), "{:?}", s.entities);
    assert_eq!(s.first.as_deref(), Some(readnext_core::format_date(20_000 * 86_400).as_str()));

    engine.write(&[Write::Delete("sheinbaum".into())]).unwrap();
    let after = engine.story_of_article("q", 0).unwrap();
    assert!(after.timeline.iter().all(|e| e.id != "sheinbaum"));
    assert_eq!(after.articles, s.articles - 1);
    assert!(matches!(engine.story_of_article("sheinbaum", 0), Err(crate::RecommendError::NotFound(_))));
    assert!(engine.story("sheinbaum", 0).unwrap().is_none(), "not a story id");
    assert_eq!(engine.story("q", 0).unwrap().map(|s| s.articles), Some(after.articles));
}

#[test]
fn related_picks_from_the_query_story_say_same_story_and_an_unsaved_page_finds_its_story_without_being_stored() {
    let (_dir, engine) = stored(&corpus());
    engine.build_stories().unwrap();
    let (_, picks) = engine.related_to_id("sheinbaum", &RelatedOptions::default()).unwrap();
    let tariffs = picks.iter().find(|p| p.id == "tariffs").unwrap();
    assert_eq!(tariffs.why.story.as_deref(), Some("q"));
    assert!(tariffs.why.summary.starts_with("Same story, "), "{}", tariffs.why.summary);
    assert!(picks.iter().filter(|p| p.id == "baseball").all(|p| p.why.story.is_none()));

    let page = article(
        "",
        "Hegseth and Sheinbaum clash over the cartels",
        "Hegseth said the military could act against the cartels; Sheinbaum rejected it. Tariffs loom.",
        20_011,
    );
    let s = engine.story_for_article(&page, 0).unwrap().unwrap();
    assert_eq!(s.id, "q");
    assert_eq!(engine.store().len().unwrap(), 6, "the page is not stored");
    let (story, background) = engine
        .story_block(&engine.query_for_article(&page, false).unwrap(), Some(&page), &RelatedOptions::default(), 0)
        .unwrap();
    let story = story.unwrap();
    let members: Vec<&str> = story
        .timeline
        .iter()
        .flat_map(|e| std::iter::once(e.id.as_str()).chain(e.copies.iter().map(String::as_str)))
        .collect();
    assert!(background.iter().all(|p| !members.contains(&p.id.as_str())), "background is from outside the story");
}

#[test]
fn an_editor_splits_an_article_off_a_story_and_merges_stories_and_the_rules_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::open(dir.path()).unwrap();
        engine.write(&corpus()).unwrap();
        assert_eq!(engine.story_of_article("sheinbaum", 0).unwrap().id, "q");
        engine.write(&[Write::SplitStory("sheinbaum".into())]).unwrap();
        let own = engine.story_of_article("sheinbaum", 0).unwrap();
        assert_eq!((own.id.as_str(), own.articles), ("sheinbaum", 1), "split off: a story of its own");
        assert!(engine.story_of_article("q", 0).unwrap().timeline.iter().all(|e| e.id != "sheinbaum"));
        // Merging baseball's story into q's shows it as part of q's.
        engine.write(&[Write::MergeStories { from: "baseball".into(), into: "q".into() }]).unwrap();
        assert_eq!(engine.story_of_article("baseball", 0).unwrap().id, "q");
        assert_eq!(
            engine.story("baseball", 0).unwrap().map(|s| s.id),
            Some("q".into()),
            "a merged id leads to its story"
        );
        let listed = engine
            .stories(&crate::StoryQuery {
                since: None,
                k: 10,
                order: crate::StoryOrder::Recent,
                timeline: 0,
                now_ms: 0,
                window_ms: 1,
            })
            .unwrap();
        let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
        assert!(ids.contains(&"q") && !ids.contains(&"baseball"), "{ids:?}");
    }
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.story_of_article("sheinbaum", 0).unwrap().id, "sheinbaum", "the split is stored");
    assert_eq!(engine.story_of_article("baseball", 0).unwrap().id, "q", "the merge is stored");
    engine.write(&[Write::UnsplitStory("sheinbaum".into()), Write::UnmergeStory("baseball".into())]).unwrap();
    assert_eq!(engine.story_of_article("sheinbaum", 0).unwrap().id, "q");
    assert_eq!(engine.story_of_article("baseball", 0).unwrap().id, "baseball");
}

#[test]
fn with_a_background_refresher_a_backdated_article_has_a_story_at_once_and_the_next_pass_puts_it_in_order() {
    let (_dir, engine) = stored(&corpus());
    assert_eq!(engine.build_stories().unwrap(), 2);
    assert!(!engine.refresh_stories().unwrap(), "nothing to assign again");
    // Backdated: it sorts before every article of its story, so the
    // stories are dirty, and it becomes the story's first article.
    let old = article("old", "Hegseth warns Mexico over the drug cartels", CARTELS, 19_990);
    engine.write(&[upsert(old)]).unwrap();
    // A read of an unaffected story does not wait for the assignment.
    assert_eq!(engine.story_of_article("baseball", 0).unwrap().id, "baseball");
    // The backdated article has a story from its write on: the one it
    // joined as the last one in, until the next pass.
    let in_story =
        |s: &readnext_core::Story, id: &str| s.timeline.iter().any(|e| e.id == id || e.copies.iter().any(|c| c == id));
    let s = engine.story_of_article("old", 0).unwrap();
    assert_eq!(s.id, "q", "provisional: joined q's story as the last one in");
    assert!(in_story(&s, "old"), "{s:?}");
    // The pass in publication order puts it first: a story's id is its
    // first article's.
    assert!(engine.refresh_stories().unwrap(), "dirty: assigned again");
    let s = engine.story_of_article("old", 0).unwrap();
    assert_eq!(s.id, "old", "a story's id is its first article's, in publication order");
    assert!(in_story(&s, "q"), "{s:?}");
    assert!(!engine.refresh_stories().unwrap(), "already assigned");
    // The same stories as a store built afresh.
    let mut writes = corpus();
    writes.push(upsert(article("old", "Hegseth warns Mexico over the drug cartels", CARTELS, 19_990)));
    let (_d2, fresh) = stored(&writes);
    for id in ["q", "old", "tariffs", "sheinbaum", "baseball"] {
        assert_eq!(engine.story_of_article(id, 0).unwrap().id, fresh.story_of_article(id, 0).unwrap().id, "{id}");
    }
}

#[test]
fn a_why_names_what_two_articles_share_and_not_what_the_corpus_has_everywhere() {
    // A publisher's boilerplate: every release is a "fact sheet" of the
    // "regional council"; two of them are also about the automotive industry.
    let towns = ["Arden", "Belmont", "Carlow", "Dunmore", "Elgin", "Fenwick", "Galway", "Hexham", "Ilford", "Jarrow"];
    let topics = ["harbour", "schools", "buses", "hospitals", "parks", "libraries", "roads", "housing", "water", "tax"];
    let mut writes = Vec::new();
    for (i, (town, topic)) in towns.iter().flat_map(|t| topics.iter().map(move |p| (t, p))).enumerate() {
        writes.push(upsert(article(
            &format!("r{i}"),
            &format!("Fact sheet: the regional council acts on {topic} in {town}"),
            &format!(
                "This fact sheet of the regional council sets out new {topic} plans for {town}. The regional council \
                 will publish a fact sheet every week."
            ),
            20_000 + i as i64,
        )));
    }
    for (id, town) in [("car1", "Kendal"), ("car2", "Lanark")] {
        writes.push(upsert(article(
            id,
            &format!("Fact sheet: the regional council backs the automotive industry in {town}"),
            &format!(
                "This fact sheet of the regional council sets out support for the automotive industry in {town}. \
                 Automotive industry suppliers in {town} get grants for electric gearboxes."
            ),
            20_200,
        )));
    }
    let (_dir, engine) = stored(&writes);
    let picks = engine.related(&engine.query_for_id("car1").unwrap(), &RelatedOptions::default()).unwrap();
    let car2 = picks.iter().find(|p| p.id == "car2").unwrap_or_else(|| panic!("{picks:#?}"));
    let said = car2.why.keyphrases.join(", ");
    assert!(said.contains("automotive industry"), "{:?}", car2.why);
    for p in &picks {
        let named = |phrase: &str| p.why.keyphrases.iter().any(|k| k.to_lowercase() == phrase);
        assert!(!named("fact sheet") && !named("regional council"), "{}: {:?}", p.id, p.why);
        assert!(!p.why.summary.to_lowercase().contains("fact sheet"), "{}: {:?}", p.id, p.why);
    }
    // On a corpus of a few articles, nothing is common enough to leave out.
    let (_d2, small) = stored(&writes[98..]);
    let picks = small.related(&small.query_for_id("car1").unwrap(), &RelatedOptions::default()).unwrap();
    let car2 = picks.iter().find(|p| p.id == "car2").unwrap_or_else(|| panic!("{picks:#?}"));
    assert!(car2.why.keyphrases.iter().any(|k| k.to_lowercase().contains("fact sheet")), "{:?}", car2.why);
}
