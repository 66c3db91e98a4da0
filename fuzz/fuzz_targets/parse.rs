//! Every parser, forced and auto-detected, on arbitrary bytes; and analysis
//! of whatever parses. Run with `cargo +nightly fuzz run parse` from `fuzz/`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use readnext_ingest::{Format, parse_bytes};

const FORMATS: [Format; 7] =
    [Format::Auto, Format::Page, Format::Markdown, Format::Jsonl, Format::Bbc, Format::Html, Format::Feed];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let format = FORMATS[usize::from(selector) % FORMATS.len()];
    if let Ok(parsed) = parse_bytes(Path::new("fuzz.txt"), Path::new("."), bytes, format) {
        for article in &parsed.articles {
            let _ = readnext_analysis::analyze(article);
        }
    }
});
