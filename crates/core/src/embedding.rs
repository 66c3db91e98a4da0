//! The one convention every crate shares about sentence embeddings: they
//! are f32 vectors of unit length, so that a dot product is a cosine.

/// Dot product of two vectors; 0 when their lengths differ (vectors of two
/// different models say nothing about each other).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Scales `v` to unit length. Returns false, leaving `v` as it was, when it
/// has no length to scale (all zeros, or not finite).
pub fn normalize(v: &mut [f32]) -> bool {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !norm.is_finite() || norm <= 1e-12 {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    true
}

/// Each read scales a reader's earlier taste by this before its article's
/// vector is added: the last ~10 reads dominate, old interests fade.
pub const TASTE_DECAY: f32 = 0.9;

/// Adds the vector of a newer read to a reader's taste (a decayed sum, not
/// yet normalised): `taste = taste * TASTE_DECAY + v`. A taste of another
/// length (empty, or from another model) is replaced.
pub fn add_to_taste(taste: &mut Vec<f32>, v: &[f32]) {
    if taste.len() != v.len() {
        *taste = vec![0.0; v.len()];
    }
    taste.iter_mut().zip(v).for_each(|(t, x)| *t = *t * TASTE_DECAY + x);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_length_and_cosines() {
        let mut v = vec![3.0, 4.0];
        assert!(normalize(&mut v));
        assert_eq!(v, [0.6, 0.8]);
        assert!((dot(&v, &v) - 1.0).abs() < 1e-6);
        let mut zero = vec![0.0; 3];
        assert!(!normalize(&mut zero));
        assert_eq!(zero, [0.0; 3]);
        assert!(!normalize(&mut [f32::NAN, 1.0]));
        assert_eq!(dot(&[1.0, 0.0], &[1.0]), 0.0);
        // A taste starts from its first read, decays older reads, and a
        // vector of another length starts it over.
        let mut taste = vec![];
        add_to_taste(&mut taste, &[1.0, 0.0]);
        add_to_taste(&mut taste, &[0.0, 1.0]);
        assert_eq!(taste, [TASTE_DECAY, 1.0]);
        add_to_taste(&mut taste, &[2.0]);
        assert_eq!(taste, [2.0]);
    }
}
