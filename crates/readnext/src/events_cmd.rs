//! `readnext events`, `readnext forget` and `readnext train`: reading events
//! in, readers out, the reader ranker fitted.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use readnext_core::Event;
use readnext_recommend::now_ms;

/// Events per transaction.
const BATCH: usize = 10_000;

/// How far ahead of this machine's clock an event may be dated.
const FUTURE_SKEW_MS: i64 = 5 * 60_000;

/// Records the events of JSON Lines files (the `POST /v1/events` shape, one
/// per line). A bad line is reported with its file and line, and skipped.
pub fn events(store: &Path, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let engine = crate::open(store)?;
    let now = now_ms();
    let (mut stored, mut failed) = (0usize, 0usize);
    for path in paths {
        let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
        let mut batch: Vec<Event> = Vec::new();
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: {}:{}: {e}", path.display(), i + 1);
                    failed += 1;
                    break;
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            let parsed = serde_json::from_str::<serde_json::Value>(&line)
                .map_err(|e| e.to_string())
                .and_then(|v| readnext_ingest::parse_event(&v, now).map_err(|e| e.to_string()))
                .and_then(|e| {
                    // Past events are an import; future ones are bad data
                    // that would top trending until their time came.
                    if e.time_ms > now + FUTURE_SKEW_MS {
                        Err("time: more than 5 minutes in the future".to_string())
                    } else {
                        Ok(e)
                    }
                });
            match parsed {
                Ok(e) => batch.push(e),
                Err(e) => {
                    eprintln!("error: {}:{}: {e}", path.display(), i + 1);
                    failed += 1;
                }
            }
            if batch.len() >= BATCH {
                stored += engine.record_events(&batch)?;
                batch.clear();
            }
        }
        stored += engine.record_events(&batch)?;
    }
    outln!("recorded {stored} events; {failed} lines failed");
    Ok(if failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Erases a reader.
pub fn forget(store: &Path, user: &str) -> anyhow::Result<ExitCode> {
    let engine = crate::open(store)?;
    let n = engine.forget(user)?;
    outln!("forgot reader {user:?}: {n} events removed");
    Ok(ExitCode::SUCCESS)
}

/// Fits the reader ranker on the recorded events and stores it.
pub fn train(store: &Path, l2: f32, iterations: usize) -> anyhow::Result<ExitCode> {
    let engine = crate::open(store)?;
    let r = engine.train_ranker(l2, iterations)?;
    let m = &r.model;
    if m.positives == 0 || m.positives == m.examples {
        anyhow::bail!(
            "nothing to learn from: {} slates, {} shown articles, {} of them clicked (record impressions and clicks with `readnext events` or POST /v1/events)",
            r.slates,
            m.examples,
            m.positives
        );
    }
    outln!(
        "ranker v{} fitted on {} slates ({} shown articles, {} clicked) and stored",
        m.version,
        r.slates,
        m.examples,
        m.positives
    );
    for (name, w) in readnext_recommend::FEATURE_NAMES.iter().zip(&m.weights) {
        outln!("  {name:<28} {w:+.3}");
    }
    Ok(ExitCode::SUCCESS)
}
