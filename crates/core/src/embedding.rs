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
    }
}
