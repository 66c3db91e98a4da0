//! Ranking and correlation metrics. Every function takes plain numbers so
//! that it can be checked against hand-computed cases.

/// nDCG@k with gain `2^rel - 1` and a `log2(rank + 1)` discount.
/// `ranked` holds the graded relevance of the returned list, in order;
/// `all` the relevance of every candidate (for the ideal ordering).
/// A query with no relevant candidate scores 0.
pub fn ndcg_at(ranked: &[u8], all: &[u8], k: usize) -> f64 {
    let dcg = |rels: &mut dyn Iterator<Item = u8>| -> f64 {
        rels.take(k).enumerate().map(|(i, r)| (2f64.powi(i32::from(r)) - 1.0) / ((i + 2) as f64).log2()).sum()
    };
    let mut ideal: Vec<u8> = all.to_vec();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg = dcg(&mut ideal.into_iter());
    if idcg <= 0.0 {
        return 0.0;
    }
    dcg(&mut ranked.iter().copied()) / idcg
}

/// Share of the first `k` positions holding an item that `hit` accepts;
/// positions past the end of a short list count as misses.
pub fn precision_at(ranked: &[u8], k: usize, hit: impl Fn(u8) -> bool) -> f64 {
    if k == 0 {
        return 0.0;
    }
    ranked.iter().take(k).filter(|&&r| hit(r)).count() as f64 / k as f64
}

/// Average precision of a ranked list, with `relevant_total` relevant items
/// in the whole collection (any relevance > 0 is relevant). 0 when nothing
/// is relevant.
pub fn average_precision(ranked: &[u8], relevant_total: usize) -> f64 {
    if relevant_total == 0 {
        return 0.0;
    }
    let mut hits = 0usize;
    let mut sum = 0.0;
    for (i, &r) in ranked.iter().enumerate() {
        if r > 0 {
            hits += 1;
            sum += hits as f64 / (i + 1) as f64;
        }
    }
    sum / relevant_total as f64
}

/// Pearson correlation; `None` when either side is constant or the lengths differ.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Ranks with ties sharing their average rank (1-based).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = avg;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman correlation: Pearson over average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    pearson(&average_ranks(x), &average_ranks(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn ndcg_hand_cases() {
        // Perfect order.
        assert!(close(ndcg_at(&[2, 1, 0], &[0, 1, 2], 10), 1.0));
        // [0, 2]: DCG = 3/log2(3); ideal [2, 0]: 3/1.
        assert!(close(ndcg_at(&[0, 2], &[2, 0], 10), 1.0 / 3f64.log2()));
        // k shorter than the list: only the first k count, ideal also cut at k.
        assert!(close(ndcg_at(&[0, 1], &[1, 1], 1), 0.0));
        // k larger than the list.
        assert!(close(ndcg_at(&[1], &[1, 1], 10), 1.0 / (1.0 + 1.0 / 3f64.log2())));
        // No relevant item at all.
        assert_eq!(ndcg_at(&[0, 0], &[0, 0], 10), 0.0);
        // Ties in the ideal ordering do not matter.
        assert!(close(ndcg_at(&[1, 1], &[1, 1, 0], 2), 1.0));
    }

    #[test]
    fn precision_and_ap_hand_cases() {
        assert!(close(precision_at(&[2, 1, 0, 2, 0], 5, |r| r == 2), 0.4));
        // A short list: missing positions are misses.
        assert!(close(precision_at(&[1], 10, |r| r > 0), 0.1));
        assert_eq!(precision_at(&[], 0, |r| r > 0), 0.0);
        // AP of [1, 0, 1] with 2 relevant: (1/1 + 2/3) / 2.
        assert!(close(average_precision(&[1, 0, 1], 2), (1.0 + 2.0 / 3.0) / 2.0));
        // A relevant item never retrieved lowers AP.
        assert!(close(average_precision(&[1], 2), 0.5));
        assert_eq!(average_precision(&[0, 0], 0), 0.0);
    }

    #[test]
    fn correlations_hand_cases() {
        assert!(close(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap(), 1.0));
        assert!(close(pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap(), -1.0));
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_none());
        assert_eq!(average_ranks(&[10.0, 20.0, 10.0]), [1.5, 3.0, 1.5]);
        // Monotone but not linear: Spearman 1, Pearson < 1.
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [1.0, 4.0, 9.0, 100.0];
        assert!(close(spearman(&x, &y).unwrap(), 1.0));
        assert!(pearson(&x, &y).unwrap() < 0.99);
    }
}
