//! `mrctl admin safemode get|enter|leave|wait`: the namenode's safe mode, as HDFS's
//! `dfsadmin -safemode`. `get` says ON or OFF and what keeps it on; `enter` (it then stays on
//! until `leave`) and `leave` (even short of the block threshold) take a superuser; `wait`
//! returns once it is off (exit 0), or fails at `--timeout`.

use anyhow::{bail, Context};
use clap::Subcommand;
use client::DfsClient;
use client::{SafeModeAction, SafeModeResponse};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum SafemodeCmd {
    /// Prints whether safe mode is ON or OFF, and what keeps it on.
    Get,
    /// Enters safe mode: no changes are accepted until `leave`.
    Enter,
    /// Leaves safe mode, even if not enough blocks have been reported.
    Leave,
    /// Waits until safe mode is off.
    Wait {
        /// Give up (exit 1) after this long: a number with s, m or h (e.g. 30s); default:
        /// wait as long as it takes.
        #[arg(long, value_parser = parse_timeout)]
        timeout: Option<Duration>,
    },
}

pub fn run(dfs: &DfsClient, cmd: SafemodeCmd) -> anyhow::Result<ExitCode> {
    let action = match &cmd {
        SafemodeCmd::Get | SafemodeCmd::Wait { .. } => SafeModeAction::SafeModeGet,
        SafemodeCmd::Enter => SafeModeAction::SafeModeEnter,
        SafemodeCmd::Leave => SafeModeAction::SafeModeLeave,
    };
    let status = match cmd {
        SafemodeCmd::Wait { timeout } => wait(dfs, timeout)?,
        _ => dfs.safe_mode(action).context("safe mode")?,
    };
    outln!("Safe mode is {}", describe(&status));
    Ok(ExitCode::SUCCESS)
}

/// Polls until safe mode is off. A namenode that does not answer yet (starting) is waited
/// for like one in safe mode; any other error ends the wait.
fn wait(dfs: &DfsClient, timeout: Option<Duration>) -> anyhow::Result<SafeModeResponse> {
    let start = Instant::now();
    loop {
        let why = match dfs.safe_mode(SafeModeAction::SafeModeGet) {
            Ok(s) if !s.on => return Ok(s),
            Ok(s) => describe(&s),
            Err(e) if e.is_temporary() => e.to_string(),
            Err(e) => return Err(e).context("safe mode"),
        };
        if let Some(t) = timeout.filter(|&t| start.elapsed() >= t) {
            bail!("safe mode is still ON after {t:?}: {why}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// "ON: <why>" or "OFF (<block counts>)".
fn describe(s: &SafeModeResponse) -> String {
    if !s.on {
        return format!("OFF ({})", s.blocks);
    }
    if s.entered_by.is_empty() {
        format!(
            "ON: {} (it ends by itself once enough blocks are reported; `mrctl admin safemode \
             leave` ends it now)",
            s.blocks
        )
    } else {
        format!(
            "ON: entered manually by {}; it stays on until `mrctl admin safemode leave` ({})",
            s.entered_by, s.blocks
        )
    }
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a number with s, m or h (e.g. 30s)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{s:?}: the unit must be s, m or h (e.g. 30s)")),
    };
    Ok(Duration::from_secs(secs))
}
