//! Keyphrases: runs of content words between stop words and punctuation,
//! scored by how often they recur and whether the headline uses them.

use readnext_core::{FastMap, Keyphrase, fnv1a64};

use crate::fingerprint::mix;
use crate::stopwords::is_stop;
use crate::terms::StemCache;
use crate::tokens::Word;

const MAX_PHRASES: usize = 12;

/// One candidate phrase: its stems and surfaces are built only when a
/// phrase is first seen; repeats only add to counts.
struct Candidate {
    key: String,
    score: f32,
    /// (hash of the surface words, surface, count)
    surfaces: Vec<(u64, String, u32)>,
}

/// A content word of the current run.
struct RunWord<'a> {
    lower: &'a str,
    stem: u32,
    stem_hash: u64,
    word_hash: u64,
}

/// Counts every sub-phrase (1 to 3 words) of a run, then empties it.
fn flush(run: &mut Vec<RunWord<'_>>, cands: &mut FastMap<u64, Candidate>, stems: &StemCache, weight: f32) {
    for n in 1..=3.min(run.len()) {
        for win in run.windows(n) {
            let key_hash = win.iter().fold(n as u64, |h, w| mix(h, w.stem_hash));
            let surface_hash = win.iter().fold(n as u64, |h, w| mix(h, w.word_hash));
            let c = cands.entry(key_hash).or_insert_with(|| Candidate {
                key: win.iter().map(|w| stems.by_id(w.stem)).collect::<Vec<_>>().join(" "),
                score: 0.0,
                surfaces: Vec::new(),
            });
            // Longer phrases are rarer and more telling.
            c.score += weight * n as f32;
            match c.surfaces.iter_mut().find(|s| s.0 == surface_hash) {
                Some(s) => s.2 += 1,
                None => c.surfaces.push((surface_hash, win.iter().map(|w| w.lower).collect::<Vec<_>>().join(" "), 1)),
            }
        }
    }
    run.clear();
}

/// Extracts up to a dozen keyphrases (1 to 3 words).
pub(crate) fn extract(
    stems: &mut StemCache,
    lang: &str,
    (title, title_lower): (&[Word<'_>], &[crate::terms::Lower<'_>]),
    (body, body_lower): (&[Word<'_>], &[crate::terms::Lower<'_>]),
) -> Vec<Keyphrase> {
    // Phrases are keyed by a hash of their stems, so that the thousands of
    // n-grams of a long article cost no allocation once seen.
    let mut cands: FastMap<u64, Candidate> = FastMap::default();
    for (ws, lowers, weight) in [(title, title_lower, 3.0), (body, body_lower, 1.0)] {
        let mut run: Vec<RunWord<'_>> = Vec::new();
        for (w, lower) in ws.iter().zip(lowers) {
            let content =
                lower.chars().nth(2).is_some() && !is_stop(lang, lower) && !lower.chars().all(|c| c.is_ascii_digit());
            if w.after_break || !content {
                flush(&mut run, &mut cands, stems, weight);
            }
            if content {
                let stem = stems.stem_id(lower);
                let stem_hash = stems.hash_of(stem);
                run.push(RunWord { lower, stem, stem_hash, word_hash: fnv1a64(lower.as_bytes()) });
            }
        }
        flush(&mut run, &mut cands, stems, weight);
    }
    let mut out: Vec<Keyphrase> = cands
        .into_values()
        .filter(|c| c.score >= 2.0 && !c.key.is_empty())
        .map(|c| {
            let text = c
                .surfaces
                .into_iter()
                .max_by(|a, b| a.2.cmp(&b.2).then_with(|| b.1.cmp(&a.1)))
                .map(|s| s.1)
                .unwrap_or_default();
            Keyphrase { key: c.key, text, score: c.score }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.key.cmp(&b.key)));
    // Drop a phrase contained in a better one already kept.
    let mut kept: Vec<Keyphrase> = Vec::new();
    for k in out {
        if kept.len() >= MAX_PHRASES {
            break;
        }
        let inside = |p: &Keyphrase| {
            p.key == k.key
                || p.key.starts_with(&format!("{} ", k.key))
                || p.key.ends_with(&format!(" {}", k.key))
                || p.key.contains(&format!(" {} ", k.key))
        };
        if kept.iter().any(inside) {
            continue;
        }
        kept.push(k);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::words;

    #[test]
    fn recurring_phrases_rank_first() {
        let t = words("Tariffs on Mexican products");
        let b = words(
            "The drug cartels answered. Drug cartels again, and the drug cartels. Mexican products face tariffs.",
        );
        let (tl, bl) = (crate::terms::lowers(&t), crate::terms::lowers(&b));
        let k = extract(&mut StemCache::new("en"), "en", (&t, &tl), (&b, &bl));
        assert!(k.iter().take(3).any(|p| p.key == "drug cartel"), "{k:?}");
        assert!(k.iter().any(|p| p.text.contains("mexican products")), "{k:?}");
    }
}
