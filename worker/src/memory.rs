//! An attempt's memory limit, enforced by a watchdog: the attempt's resident memory (`VmRSS`
//! in `/proc/PID/status`) is polled, and the attempt is killed once it is over its job's task
//! memory; its peak (`VmHWM`) goes into the failure, which the job tracker retries as any.
//! (A cgroup v2 `memory.max` would need the memory controller delegated to the worker's
//! subtree, which the machines this runs on do not give.)

use std::time::Duration;

/// How often an attempt's memory is read.
const POLL: Duration = Duration::from_millis(100);

/// Resident memory of a process, in KiB: now and its peak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub rss_kib: u64,
    pub peak_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` from the text of `/proc/PID/status`.
pub fn parse_status(text: &str) -> Option<Usage> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    let rss_kib = field("VmRSS:")?;
    let peak_kib = field("VmHWM:").unwrap_or(rss_kib).max(rss_kib);
    Some(Usage { rss_kib, peak_kib })
}

/// The failure of an attempt over its limit.
pub fn over_limit_error(limit_mib: u64, peak_kib: u64) -> String {
    format!(
        "the task exceeded its memory limit of {limit_mib} MiB (peak {} MiB); give the job a \
         larger task_memory_mb or make its tasks use less",
        peak_kib.div_ceil(1024)
    )
}

/// Polls process `pid` until its resident memory is over `limit_mib`; returns its peak in KiB
/// then. Never returns for no limit (0) or a process whose memory cannot be read.
pub async fn watch(pid: Option<u32>, limit_mib: u64) -> u64 {
    let (Some(pid), true) = (pid, limit_mib > 0) else {
        return std::future::pending().await;
    };
    let path = format!("/proc/{pid}/status");
    loop {
        tokio::time::sleep(POLL).await;
        let Ok(text) = tokio::fs::read_to_string(&path).await else {
            // The process is gone: its end is reported by whoever waits for it.
            return std::future::pending().await;
        };
        if let Some(u) = parse_status(&text) {
            if u.rss_kib > limit_mib * 1024 {
                return u.peak_kib;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_resident_memory_and_its_peak() {
        let text =
            "Name:\tfaultyjob\nVmPeak:\t  900000 kB\nVmHWM:\t  300100 kB\nVmRSS:\t  200000 kB\n";
        assert_eq!(
            parse_status(text),
            Some(Usage {
                rss_kib: 200_000,
                peak_kib: 300_100
            })
        );
        assert_eq!(parse_status("Name:\tkthread\n"), None);
    }

    #[test]
    fn the_error_names_the_limit_and_the_peak() {
        let e = over_limit_error(64, 300_100);
        assert!(
            e.starts_with("the task exceeded its memory limit of 64 MiB (peak 294 MiB)"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_process_over_its_limit_is_seen_and_one_under_it_is_not() {
        // This test process itself: well over 1 MiB, well under 1 TiB.
        let me = Some(std::process::id());
        let peak = tokio::time::timeout(Duration::from_secs(10), watch(me, 1))
            .await
            .expect("over 1 MiB");
        assert!(peak > 1024, "{peak}");
        let under = tokio::time::timeout(Duration::from_millis(500), watch(me, 1 << 20)).await;
        assert!(under.is_err(), "under 1 TiB");
    }
}
