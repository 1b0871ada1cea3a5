//! A map-only job for the isolation tests: `probejob IN OUT`. Each input line names a local path
//! on the worker's machine; the map tries to read it (a file) or list it (a folder) and emits
//! `path<TAB>ok` or `path<TAB>denied: why`, plus one `uid<TAB>N` line per map: the OS user the
//! task ran as.

use mapreduce::{fail, Dest, Input, Job, Mapper, MrResult, Output, Record, Stage, TaskContext};
use std::os::unix::fs::MetadataExt;

struct Probe;

impl Mapper for Probe {
    type Key = String;
    type Value = String;

    fn setup(&mut self, _ctx: &mut TaskContext) -> MrResult<()> {
        Ok(())
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output<'_, String, String>) -> MrResult<()> {
        let path = record.line()?.trim().to_string();
        if path.is_empty() {
            return Ok(());
        }
        if path == "uid" {
            // /proc/self belongs to the process's effective uid.
            let uid = std::fs::metadata("/proc/self")
                .map(|m| m.uid().to_string())
                .unwrap_or_else(|e| format!("unknown: {e}"));
            return out.emit(&"uid".to_string(), &uid);
        }
        let p = std::path::Path::new(&path);
        let result = if p.is_dir() {
            std::fs::read_dir(p).map(|_| ())
        } else {
            std::fs::read(p).map(|_| ())
        };
        let verdict = match result {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("denied: {e}"),
        };
        out.emit(&path, &verdict)
    }
}

fn job(args: &[String]) -> MrResult<Job> {
    let [input, output] = args else {
        return Err(fail("usage: probejob IN OUT"));
    };
    Ok(Job::new("probe").stage(
        Stage::map("probe", || Probe)
            .input(Input::text(input))
            .output(Dest::text(output)),
    ))
}

fn main() {
    mapreduce::run(|env| job(env.args()))
}
