//! Peak memory of this process (Linux `/proc`), resettable so that each
//! system of a run gets its own figure.

use std::sync::atomic::{AtomicU64, Ordering};

/// Resident memory when the counter was last reset.
static BASE: AtomicU64 = AtomicU64::new(0);

fn status_kb(field: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return 0 };
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0)
}

/// Resets the kernel's peak resident-set counter (`VmHWM`) to the current
/// size and remembers that size. Where the reset is not possible, figures
/// are peaks since process start.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    BASE.store(status_kb("VmRSS:") * 1024, Ordering::Relaxed);
}

/// Peak resident memory since process start or the last reset, in bytes
/// (0 when unknown).
pub fn peak_rss_bytes() -> u64 {
    status_kb("VmHWM:") * 1024
}

/// How far the peak rose above the resident size at the last reset: the
/// memory a measured step needed, not counting what earlier steps left
/// allocated.
pub fn peak_rss_growth_bytes() -> u64 {
    peak_rss_bytes().saturating_sub(BASE.load(Ordering::Relaxed))
}
