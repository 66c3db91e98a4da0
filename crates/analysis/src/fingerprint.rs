//! SimHash over word 3-shingles: two copies of one wire story, with a changed
//! headline or an added paragraph, differ in a few bits; unrelated articles in
//! about half of the 64.

use readnext_core::fnv1a64;

/// 64-bit SimHash of the 3-word shingles of `tokens` (lower-cased words).
pub fn simhash(tokens: &[String]) -> u64 {
    let mut acc = [0i32; 64];
    let mut add = |h: u64| {
        for (bit, a) in acc.iter_mut().enumerate() {
            if h >> bit & 1 == 1 {
                *a += 1;
            } else {
                *a -= 1;
            }
        }
    };
    if tokens.len() < 3 {
        for t in tokens {
            add(fnv1a64(t.as_bytes()));
        }
    } else {
        for w in tokens.windows(3) {
            let s = format!("{} {} {}", w[0], w[1], w[2]);
            add(fnv1a64(s.as_bytes()));
        }
    }
    acc.iter().enumerate().fold(0u64, |h, (bit, &a)| if a > 0 { h | 1 << bit } else { h })
}

/// Number of differing bits.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_lowercase).collect()
    }

    #[test]
    fn near_copies_are_close_and_others_far() {
        let base = "the defense secretary told mexican officials on friday that the united states military would \
                    act alone against the cartels if the government did not stop the collusion with traffickers \
                    and the talks on tariffs of twenty five percent continued through the weekend in washington";
        let copy = format!("{base} according to reuters");
        let other = "quarterly profits at the media giant jumped as sales of high speed internet connections and \
                     advertising rose while the firm benefited from one off gains which offset a dip at the studio";
        let (a, b, c) = (simhash(&toks(base)), simhash(&toks(&copy)), simhash(&toks(other)));
        assert!(hamming(a, b) <= 8, "copy distance {}", hamming(a, b));
        assert!(hamming(a, c) > 16, "unrelated distance {}", hamming(a, c));
    }
}
