//! Keyphrases: runs of content words between stop words and punctuation,
//! scored by how often they recur and whether the headline uses them.

use readnext_core::{FastMap, Keyphrase};

use crate::stopwords::is_stop;
use crate::terms::StemCache;
use crate::tokens::Word;

const MAX_PHRASES: usize = 12;

/// Extracts up to a dozen keyphrases (1 to 3 words).
pub(crate) fn extract(stems: &mut StemCache, lang: &str, title: &[Word<'_>], body: &[Word<'_>]) -> Vec<Keyphrase> {
    // phrase key -> (score, surface counts)
    let mut cands: FastMap<String, (f32, FastMap<String, u32>)> = FastMap::default();
    let mut scan = |ws: &[Word<'_>], weight: f32| {
        let mut run: Vec<String> = Vec::new();
        let mut flush = |run: &mut Vec<String>| {
            let stemmed: Vec<String> = run.iter().map(|w| stems.stem(w).to_string()).collect();
            // All sub-phrases of up to three words.
            for n in 1..=3.min(run.len()) {
                for (i, win) in run.windows(n).enumerate() {
                    let key = stemmed[i..i + n].join(" ");
                    let e = cands.entry(key).or_default();
                    // Longer phrases are rarer and more telling.
                    e.0 += weight * n as f32;
                    *e.1.entry(win.join(" ")).or_default() += 1;
                }
            }
            run.clear();
        };
        for w in ws {
            let lower = w.text.trim_end_matches('.').to_lowercase();
            let content =
                lower.chars().count() >= 3 && !is_stop(lang, &lower) && !lower.chars().all(|c| c.is_ascii_digit());
            if w.after_break || !content {
                flush(&mut run);
            }
            if content {
                run.push(lower);
            }
        }
        flush(&mut run);
    };
    scan(title, 3.0);
    scan(body, 1.0);
    let mut out: Vec<Keyphrase> = cands
        .into_iter()
        .filter(|(k, (score, _))| *score >= 2.0 && !k.is_empty())
        .map(|(key, (score, surfaces))| {
            let text = surfaces
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .map(|s| s.0)
                .unwrap_or_default();
            Keyphrase { key, text, score }
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
        let k = extract(&mut StemCache::new("en"), "en", &t, &b);
        assert!(k.iter().take(3).any(|p| p.key == "drug cartel"), "{k:?}");
        assert!(k.iter().any(|p| p.text.contains("mexican products")), "{k:?}");
    }
}
