//! Experiment arms: a subject's arm is a stable hash of (scope, subject)
//! over the arms' weights, the same wherever it is worked out (campaign-svc
//! assigns it; accrual's what-if assigns it again under a draft).
use sha2::{Digest, Sha256};

/// The index of `subject`'s arm in `scope` among arms of `weights`; none
/// when the weights sum to 0.
pub fn pick(scope: &str, subject: &str, weights: &[u32]) -> Option<usize> {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let digest = Sha256::digest(format!("{scope}\u{0}{subject}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let mut bucket = u64::from_be_bytes(first) % total;
    weights.iter().position(|w| {
        let w = u64::from(*w);
        if bucket < w {
            true
        } else {
            bucket -= w;
            false
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: [Option<usize>; 8] = [
        Some(1),
        Some(1),
        Some(1),
        Some(0),
        Some(0),
        Some(0),
        Some(1),
        Some(0),
    ];

    #[test]
    fn arms_never_move() {
        // Customers keep their arms across releases: these are pinned.
        let picks: Vec<_> = (0..8)
            .map(|i| pick("camp-1", &format!("c{i}"), &[1, 3]))
            .collect();
        assert_eq!(picks, PINNED);
        assert_eq!(pick("camp-1", "c", &[0, 0]), None);
        assert_eq!(pick("camp-1", "c", &[]), None);
        assert_eq!(pick("camp-1", "c", &[0, 5]), Some(1));
    }
}
