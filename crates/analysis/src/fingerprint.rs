//! SimHash over word 3-shingles: two copies of one wire story, with a changed
//! headline or an added paragraph, differ in a few bits; unrelated articles in
//! about half of the 64.

/// FNV-1a of a word, lower-cased on the fly (no allocation).
pub fn token_hash(word: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut buf = [0u8; 4];
    for c in word.chars().flat_map(char::to_lowercase) {
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Combines two hashes (order matters).
pub fn mix(h: u64, x: u64) -> u64 {
    let mut z = h ^ x.wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_add(h << 6).wrapping_add(h >> 2);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z ^ (z >> 31)
}

/// 64-bit SimHash of the 3-word shingles of a text given as word hashes
/// ([`token_hash`]).
pub fn simhash_of_hashes(tokens: &[u64]) -> u64 {
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
        tokens.iter().for_each(|&t| add(t));
    } else {
        for w in tokens.windows(3) {
            add(mix(mix(w[0], w[1]), w[2]));
        }
    }
    acc.iter().enumerate().fold(0u64, |h, (bit, &a)| if a > 0 { h | 1 << bit } else { h })
}

/// 64-bit SimHash of the 3-word shingles of `tokens` (lower-cased words).
pub fn simhash(tokens: &[String]) -> u64 {
    let hashes: Vec<u64> = tokens.iter().map(|t| token_hash(t)).collect();
    simhash_of_hashes(&hashes)
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
        // A realistic length: a wire story of a few paragraphs.
        let base = format!(
            "{base} officials in mexico city said the president would answer on monday after meeting her cabinet \
             and the governors of the northern states where the cartels operate along the border with texas and \
             arizona while the trade ministry prepared a list of american goods that could face retaliatory duties"
        );
        let base = base.as_str();
        let copy = format!("{base} according to reuters");
        let other = "quarterly profits at the media giant jumped as sales of high speed internet connections and \
                     advertising rose while the firm benefited from one off gains which offset a dip at the studio";
        let (a, b, c) = (simhash(&toks(base)), simhash(&toks(&copy)), simhash(&toks(other)));
        assert!(hamming(a, b) <= 8, "copy distance {}", hamming(a, b));
        assert!(hamming(a, c) > 16, "unrelated distance {}", hamming(a, c));
    }
}
