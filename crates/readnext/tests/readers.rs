//! Readers from the command line: events in, a ranker trained on them,
//! readers forgotten.

use std::path::Path;
use std::process::{Command, Output};

fn run(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_readnext")).arg("--store").arg(store).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn events_train_and_forget() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut articles = String::new();
    for i in 0..6 {
        articles.push_str(&format!(
            "{{\"id\":\"c{i}\",\"title\":\"Cartels and Mexico, report {i}\",\"body\":\"Hegseth and Sheinbaum discussed the drug cartels and Mexico, part {i}.\",\"section\":\"world\",\"published\":\"2025-03-0{}\"}}\n",
            i + 1
        ));
        articles.push_str(&format!(
            "{{\"id\":\"b{i}\",\"title\":\"Baseball game {i}\",\"body\":\"The home team won baseball game {i} of the season.\",\"section\":\"sport\",\"published\":\"2025-03-0{}\"}}\n",
            i + 1
        ));
    }
    std::fs::write(dir.path().join("a.jsonl"), articles).unwrap();
    assert!(run(&store, &["ingest", "-q", dir.path().join("a.jsonl").to_str().unwrap()]).status.success());

    // Readers who read about cartels click cartel articles in their slates.
    let mut ev = String::new();
    let mut t = 1_740_000_000_000i64;
    for u in 0..12 {
        ev.push_str(&format!("{{\"user\":\"r{u}\",\"article\":\"c{}\",\"type\":\"click\",\"time\":{t}}}\n", u % 3));
        t += 1000;
        for (p, a) in [format!("c{}", 3 + u % 3), format!("b{}", u % 6), format!("b{}", (u + 1) % 6)].iter().enumerate()
        {
            ev.push_str(&format!(
                "{{\"user\":\"r{u}\",\"article\":\"{a}\",\"type\":\"impression\",\"time\":{t},\"position\":{p}}}\n"
            ));
        }
        ev.push_str(&format!(
            "{{\"user\":\"r{u}\",\"article\":\"c{}\",\"type\":\"click\",\"time\":{}}}\n",
            3 + u % 3,
            t + 500
        ));
        t += 1000;
    }
    ev.push_str("{\"user\":\"r0\",\"type\":\"click\"}\n");
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, ev).unwrap();
    let out = run(&store, &["events", events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "one bad line: {}", text(&out));
    assert!(text(&out).contains("events.jsonl:61: `article`: is required"), "{}", text(&out));
    assert!(text(&out).contains("recorded 60 events"), "{}", text(&out));

    let out = run(&store, &["train", "--iterations", "200"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("fitted on 12 slates (36 shown articles, 12 clicked)"), "{t}");
    let weight = |name: &str| -> f32 {
        t.lines()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(weight("section_affinity") > 0.0, "reading the section predicts clicks: {t}");

    let out = run(&store, &["forget", "r0"]);
    assert!(text(&out).contains("5 events removed"), "{}", text(&out));
    let out = run(&store, &["forget", "r0"]);
    assert!(text(&out).contains("0 events removed"), "{}", text(&out));

    // Nothing to learn from an empty log: a clear error, exit 2.
    let empty = dir.path().join("empty");
    assert!(run(&empty, &["ingest", "-q", dir.path().join("a.jsonl").to_str().unwrap()]).status.success());
    let out = run(&empty, &["train"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("nothing to learn from"), "{}", text(&out));
}
