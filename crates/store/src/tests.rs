use super::*;

fn record(id: &str, title: &str) -> Record {
    Record {
        article: Article { id: id.into(), title: title.into(), source: Some("src".into()), ..Default::default() },
        analysis: Analysis { lang: "en".into(), ..Default::default() },
        vector: None,
    }
}

fn upsert(id: &str, title: &str) -> Write {
    Write::Upsert(Box::new(record(id, title)))
}

#[test]
fn writes_are_idempotent_and_logged_once_per_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.apply(&upsert("a", "A")).unwrap(), Applied::Inserted);
    assert_eq!(store.apply(&upsert("a", "A")).unwrap(), Applied::Unchanged);
    assert_eq!(store.last_seq().unwrap(), 1);
    assert_eq!(store.apply(&upsert("a", "A2")).unwrap(), Applied::Updated);
    assert_eq!(store.apply(&upsert("b", "B")).unwrap(), Applied::Inserted);
    assert_eq!(store.len().unwrap(), 2);
    assert_eq!(store.get("a").unwrap().unwrap().article.title, "A2");
    // The log holds the latest change of each id only.
    let ch = store.changes_since(0).unwrap();
    assert_eq!(ch, [Change { seq: 2, id: "a".into() }, Change { seq: 3, id: "b".into() }]);
    assert_eq!(store.changes_since(2).unwrap().len(), 1);
    assert_eq!(store.apply(&Write::Delete("a".into())).unwrap(), Applied::Deleted);
    assert_eq!(store.apply(&Write::Delete("a".into())).unwrap(), Applied::Missing);
    assert!(store.get("a").unwrap().is_none());
    assert_eq!(store.changes_since(3).unwrap(), [Change { seq: 4, id: "a".into() }]);
}

#[test]
fn batch_and_stats_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let applied = store.apply_batch(&[upsert("a", "A"), upsert("b", "B"), upsert("a", "A")]).unwrap();
        assert_eq!(applied, [Applied::Inserted, Applied::Inserted, Applied::Unchanged]);
    }
    let store = Store::open(dir.path()).unwrap();
    let s = store.stats().unwrap();
    assert_eq!(s.articles, 2);
    assert_eq!(s.by_lang.get("en"), Some(&2));
    assert_eq!(s.by_source.get("src"), Some(&2));
    assert!(s.store_bytes > 0);
    let ranks = store.rank_inputs(&["a", "zz"]).unwrap();
    assert!(ranks[0].is_some() && ranks[1].is_none());
    let many = store.get_many(&["b", "zz", "a"]).unwrap();
    assert_eq!(many.iter().map(Option::is_some).collect::<Vec<_>>(), [true, false, true]);
}

#[test]
fn invalid_write_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.apply(&upsert("a", "A")).unwrap();
    assert!(store.apply_batch(&[upsert("b", "B"), upsert("", "no id")]).is_err());
    assert_eq!(store.len().unwrap(), 1);
}

fn event(user: &str, article: &str, kind: readnext_core::EventKind, time_ms: i64) -> readnext_core::Event {
    readnext_core::Event { user: user.into(), article: article.into(), kind, time_ms, position: None, slate: vec![] }
}

#[test]
fn events_build_history_and_forgetting_a_reader_erases_every_row() {
    use readnext_core::EventKind::{Click, Impression};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .record_events(&[
            event("ana", "a", Impression, 1_000),
            event("ana", "a", Click, 2_000),
            event("bob", "b", Click, 2_500),
            event("ana", "c", Click, 3_000),
        ])
        .unwrap();
    let h = store.history("ana", 10).unwrap();
    assert_eq!(
        h.iter().map(|e| (e.article.as_str(), e.time_ms)).collect::<Vec<_>>(),
        [("c", 3_000), ("a", 2_000), ("a", 1_000)]
    );
    assert_eq!(store.history("ana", 1).unwrap().len(), 1);
    // A prefix of another reader's id is another reader.
    assert!(store.history("an", 10).unwrap().is_empty());
    let mut since = Vec::new();
    store.for_each_event_since(2_000, |e| since.push(e.article.clone())).unwrap();
    assert_eq!(since, ["a", "b", "c"]);

    assert_eq!(store.forget_user("ana").unwrap(), 3);
    assert!(store.history("ana", 10).unwrap().is_empty());
    let mut left = Vec::new();
    store.for_each_event_since(i64::MIN, |e| left.push(e.user.clone())).unwrap();
    assert_eq!(left, ["bob"], "nothing of the forgotten reader remains");
    assert_eq!(store.event_count().unwrap(), 1);
}

#[test]
fn rules_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .apply_batch(&[Write::Block("spam".into()), Write::SetPins { owner: "q".into(), pins: vec!["p".into()] }])
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let r = store.rules().unwrap();
    assert!(r.blocked.contains("spam"));
    assert_eq!(r.pins_of("q"), ["p".to_string()]);
    assert!(r.pins_of("other").is_empty());
}

#[test]
fn clicks_keep_the_profile_up_to_date_and_forgetting_erases_it() {
    use readnext_core::{Entity, EntityKind, EventKind::Click, EventKind::Impression};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut r = record("a", "A");
    r.article.section = Some("world".into());
    r.article.tags = vec!["mexico".into()];
    r.analysis.entities =
        vec![Entity { key: "mexico".into(), name: "Mexico".into(), kind: EntityKind::Place, count: 2 }];
    store.apply(&Write::Upsert(Box::new(r))).unwrap();
    store.apply(&upsert("b", "B")).unwrap();
    store
        .record_events(&[
            event("ana", "a", Click, 1_000),
            event("ana", "a", Impression, 1_500),
            event("ana", "b", Click, 2_000),
            event("ana", "unknown", Click, 3_000),
        ])
        .unwrap();
    store.record_events(&[event("ana", "a", Click, 4_000)]).unwrap();
    let p = store.profile("ana").unwrap();
    assert_eq!(p.reads, 3, "clicks on stored articles only");
    assert_eq!(p.sections.get("world"), Some(&2));
    assert_eq!(p.subsections.get("mexico"), Some(&2));
    assert_eq!(p.entities.get("mexico"), Some(&2));
    assert_eq!(p.last_ms, 4_000);
    assert!((p.section_share("world") - 2.0 / 3.0).abs() < 1e-6);
    store.forget_user("ana").unwrap();
    assert_eq!(store.profile("ana").unwrap(), readnext_core::Profile::default());
}

#[test]
fn clicks_on_embedded_articles_move_the_taste_and_forgetting_erases_it() {
    use readnext_core::EventKind::{Click, Impression};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let with = |id: &str, v: Option<Vec<f32>>| Write::Upsert(Box::new(Record { vector: v, ..record(id, id) }));
    store.apply(&with("x", Some(vec![1.0, 0.0]))).unwrap();
    store.apply(&with("y", Some(vec![0.0, 1.0]))).unwrap();
    store.apply(&with("plain", None)).unwrap();
    assert_eq!(store.taste("ana").unwrap(), None);
    // Impressions and articles without a vector leave the taste alone.
    store.record_events(&[event("ana", "y", Impression, 500), event("ana", "plain", Click, 600)]).unwrap();
    assert_eq!(store.taste("ana").unwrap(), None);
    store.record_events(&[event("ana", "x", Click, 1_000)]).unwrap();
    assert_eq!(store.taste("ana").unwrap(), Some(vec![1.0, 0.0]));
    // A later read weighs more than an earlier one, across calls.
    store.record_events(&[event("ana", "y", Click, 2_000)]).unwrap();
    let t = store.taste("ana").unwrap().unwrap();
    let expect = [readnext_core::TASTE_DECAY, 1.0];
    let n = (expect[0] * expect[0] + expect[1] * expect[1]).sqrt();
    assert!((t[0] - expect[0] / n).abs() < 1e-6 && (t[1] - expect[1] / n).abs() < 1e-6, "{t:?}");
    assert!(t[1] > t[0]);
    // Other readers are untouched; forgetting removes the taste with the rest.
    store.record_events(&[event("bo", "x", Click, 3_000)]).unwrap();
    store.forget_user("ana").unwrap();
    assert_eq!(store.taste("ana").unwrap(), None);
    assert_eq!(store.taste("bo").unwrap(), Some(vec![1.0, 0.0]));
}

#[test]
fn vectors_follow_their_article() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let with = |title: &str, v: Option<Vec<f32>>| Write::Upsert(Box::new(Record { vector: v, ..record("a", title) }));
    assert_eq!(s.apply(&with("T", Some(vec![1.0, 0.0]))).unwrap(), Applied::Inserted);
    assert_eq!(s.vectors(&["a", "nope"]).unwrap(), vec![Some(vec![1.0, 0.0]), None]);
    // Same article, no new vector: unchanged, and the vector stays.
    assert_eq!(s.apply(&with("T", None)).unwrap(), Applied::Unchanged);
    assert_eq!(s.vector_count().unwrap(), 1);
    // Same article, another vector: a change that takes a sequence number.
    let seq = s.last_seq().unwrap();
    assert_eq!(s.apply(&with("T", Some(vec![0.0, 1.0]))).unwrap(), Applied::Updated);
    assert_eq!(s.last_seq().unwrap(), seq + 1);
    // Changed article without a vector: the stale vector goes.
    assert_eq!(s.apply(&with("T2", None)).unwrap(), Applied::Updated);
    assert_eq!(s.vectors(&["a"]).unwrap(), vec![None]);
    assert_eq!(s.ids_without_vector(None, 10).unwrap(), (vec!["a".to_string()], None));
    // Vectors for stored ids only; each is logged as a change.
    assert_eq!(s.put_vectors(&[("a".into(), vec![0.5, 0.5]), ("ghost".into(), vec![1.0, 1.0])]).unwrap(), 1);
    assert_eq!(s.changes_since(seq + 2).unwrap().len(), 1);
    assert!(s.ids_without_vector(None, 10).unwrap().0.is_empty());
    // Deleting the article deletes its vector.
    assert_eq!(s.apply(&Write::Delete("a".into())).unwrap(), Applied::Deleted);
    assert_eq!((s.vector_count().unwrap(), s.vectors(&["a"]).unwrap()), (0, vec![None]));
}

#[test]
fn ranking_inputs_of_older_stores_still_decode_with_an_unknown_language() {
    let old = RankInputWithoutLang {
        terms: vec![(1, 2)],
        entities: vec![],
        keyphrases: vec![3],
        simhash: 4,
        content_hash: 5,
        published: Some(6),
    };
    let r = decode_rank_input("a", &encode(&old, "a").unwrap()).unwrap();
    assert_eq!(
        (r.terms, r.keyphrases, r.simhash, r.published, r.lang.as_str()),
        (vec![(1, 2)], vec![3], 4, Some(6), "und")
    );
    // The current form round-trips with its language; garbage is still an error.
    let mut new = record("b", "B").analysis.rank_input(false);
    new.lang = "es".into();
    assert_eq!(decode_rank_input("b", &encode(&new, "b").unwrap()).unwrap(), new);
    assert!(decode_rank_input("c", &[FORMAT_VERSION, 0xff]).is_err());
}

fn analysed(id: &str, terms: &[&str], entities: &[&str]) -> Write {
    let mut r = record(id, id);
    r.analysis.terms =
        terms.iter().map(|t| readnext_core::Term { stem: t.to_string(), surface: t.to_string(), tf: 1 }).collect();
    r.analysis.entities = entities
        .iter()
        .map(|e| readnext_core::Entity {
            key: e.to_lowercase(),
            name: e.to_string(),
            kind: readnext_core::EntityKind::Place,
            count: 1,
        })
        .collect();
    // Its terms two by two are its keyphrases.
    r.analysis.keyphrases = terms
        .windows(2)
        .map(|w| readnext_core::Keyphrase { key: w.join(" "), text: w.join(" "), score: 1.0 })
        .collect();
    Write::Upsert(Box::new(r))
}

#[test]
fn document_frequencies_follow_writes_whatever_their_order() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (Store::open(d1.path()).unwrap(), Store::open(d2.path()).unwrap());
    let docs = [
        analysed("x", &["tariff", "mexico"], &["Mexico"]),
        analysed("y", &["tariff", "canada"], &["Canada"]),
        analysed("z", &["cartel", "tariff", "mexico"], &["Mexico"]),
    ];
    a.apply_batch(&docs).unwrap();
    // The other store: another order, a delete and a re-insert, an update
    // that is undone, and a batch that writes one article twice.
    b.apply(&docs[2]).unwrap();
    b.apply(&analysed("y", &["other"], &[])).unwrap();
    b.apply(&Write::Delete("z".into())).unwrap();
    b.apply_batch(&[docs[1].clone(), docs[0].clone(), docs[2].clone()]).unwrap();
    b.apply(&analysed("gone", &["tariff", "mexico"], &["Mexico"])).unwrap();
    b.apply(&Write::Delete("gone".into())).unwrap();
    // What events need of an article is kept with it, and goes with it.
    let inputs = b.read_inputs(&["x", "gone", "z"]).unwrap();
    assert_eq!(inputs[0].as_ref().map(|i| i.entities.clone()), Some(vec!["mexico".to_string()]));
    assert!(inputs[1].is_none() && inputs[2].is_some());
    assert!(b.contains("x").unwrap() && !b.contains("gone").unwrap(), "a deleted article is not stored");
    let (ca, cb) = (a.corpus_counts().unwrap(), b.corpus_counts().unwrap());
    assert_eq!(ca, cb);
    assert_eq!(ca.docs, 3);
    let h = readnext_core::fnv1a64;
    let f = a
        .doc_freqs(&[h(b"tariff"), h(b"other")], &[h(b"mexico")], &[h(b"tariff mexico"), h(b"cartel tariff")])
        .unwrap();
    assert_eq!((f.docs, f.terms, f.entities, f.keyphrases), (3, vec![3, 0], vec![2], vec![2, 1]));
    // A store whose statistics predate the keyphrases' builds them on open.
    drop(a);
    {
        let db = redb::Database::open(d1.path().join("store.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(redb::TableDefinition::<&str, u64>::new("meta")).unwrap();
            meta.insert("stats_version", 1).unwrap();
            let mut kdf = txn.open_table(redb::TableDefinition::<u64, u32>::new("keyphrase_df")).unwrap();
            kdf.retain(|_, _| false).unwrap();
        }
        txn.commit().unwrap();
    }
    let a = Store::open(d1.path()).unwrap();
    assert_eq!(a.corpus_counts().unwrap(), cb, "rebuilt on open");
}

#[test]
fn a_write_at_a_position_already_applied_changes_nothing() {
    use readnext_core::EventKind::Click;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.apply(&upsert("a", "A")).unwrap();
    let start = store.applied_position().unwrap();
    assert_eq!(start, 1);
    let events = Write::Events(vec![event("ana", "a", Click, 2_000), event("bob", "a", Click, 2_000)]);
    assert_eq!(store.apply_at(Some(10), std::slice::from_ref(&events)).unwrap(), [Applied::Recorded(2)]);
    let profile = store.profile("ana").unwrap();
    // Delivered again (and an older position too): nothing moves.
    assert_eq!(store.apply_at(Some(10), std::slice::from_ref(&events)).unwrap(), [Applied::Replayed]);
    assert_eq!(store.apply_at(Some(3), &[upsert("b", "B")]).unwrap(), [Applied::Replayed]);
    assert_eq!(store.event_count().unwrap(), 2);
    assert_eq!(store.profile("ana").unwrap(), profile);
    assert_eq!(profile.reads, 1);
    assert!(store.get("b").unwrap().is_none());
    assert_eq!(store.applied_position().unwrap(), 10);
    // Without a log, the store numbers writes after the last one.
    store.apply(&Write::Block("x".into())).unwrap();
    assert_eq!(store.applied_position().unwrap(), 11);
    assert!(store.rules().unwrap().blocked.contains("x"));
}
