//! Peak memory of this process (Linux `/proc`), resettable so that each
//! system of a run gets its own figure.

/// Resets the kernel's peak resident-set counter (`VmHWM`) to the current
/// size. Where that is not possible, figures are peaks since process start.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory since the last reset, in bytes (0 when unknown).
pub fn peak_rss_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return 0 };
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
