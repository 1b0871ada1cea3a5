//! A word count with faults to order, for the engine's integration tests:
//! `faultyjob IN OUT [--reducers N] [--panic-on WORD] [--slow-first-attempt MAP:MS]
//! [--sleep-per-line MS] [--slow-first-reduce MS] [--no-speculation] [--reduce-memory-mb N]
//! [--sort-buffer-mb N] [--allocate-mb N] [--task-timeout-ms MS] [--task-memory-mb N]
//! [--max-attempts N] [--sleep-per-key MS]`.

use mapreduce::{
    fail, Dest, Input, Job, Mapper, MrResult, Output, Record, Reducer, Stage, TaskContext, Values,
};
use std::time::Duration;

#[derive(Clone, Default)]
struct Faults {
    panic_on: Option<String>,
    slow_map: Option<(u32, u64)>,
    sleep_per_line: u64,
    /// MiB each map allocates and touches in its setup, and holds for a few seconds.
    allocate_mb: u64,
}

struct Tokenize(Faults, Vec<u8>);

impl Mapper for Tokenize {
    type Key = String;
    type Value = u64;

    fn setup(&mut self, ctx: &mut TaskContext) -> MrResult<()> {
        if let Some((map, ms)) = self.0.slow_map {
            if ctx.task_index() == map && ctx.attempt() == 0 {
                std::thread::sleep(Duration::from_millis(ms));
            }
        }
        if self.0.allocate_mb > 0 {
            // vec! of a non-zero byte writes every page: resident, not just reserved.
            self.1 = vec![1u8; (self.0.allocate_mb as usize) << 20];
            // Held long enough for the worker's memory watchdog to see it.
            std::thread::sleep(Duration::from_secs(3));
        }
        Ok(())
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output<'_, String, u64>) -> MrResult<()> {
        if self.0.sleep_per_line > 0 {
            std::thread::sleep(Duration::from_millis(self.0.sleep_per_line));
        }
        for word in record.line()?.split_whitespace() {
            if self.0.panic_on.as_deref() == Some(word) {
                panic!("found the poison word {word:?}");
            }
            out.emit(&word.to_string(), &1)?;
        }
        Ok(())
    }
}

/// Sums counts; as the reducer (not the combiner), a task's first attempt (attempt number 0)
/// may sleep first, and every attempt may sleep on each key, to stay writing.
struct Sum {
    first_attempt_sleep_ms: u64,
    sleep_per_key_ms: u64,
}

impl Reducer for Sum {
    type Key = String;
    type Value = u64;
    type OutKey = String;
    type OutValue = u64;

    fn setup(&mut self, ctx: &mut TaskContext) -> MrResult<()> {
        if self.first_attempt_sleep_ms > 0 && ctx.attempt() == 0 {
            std::thread::sleep(Duration::from_millis(self.first_attempt_sleep_ms));
        }
        Ok(())
    }

    fn reduce(
        &mut self,
        word: String,
        counts: &mut Values<'_, String, u64>,
        out: &mut Output<'_, String, u64>,
    ) -> MrResult<()> {
        if self.sleep_per_key_ms > 0 {
            std::thread::sleep(Duration::from_millis(self.sleep_per_key_ms));
        }
        out.emit(&word, &counts.sum())
    }
}

fn job(args: &[String]) -> MrResult<Job> {
    let mut paths = Vec::new();
    let mut faults = Faults::default();
    let (mut reducers, mut reduce_mb, mut sort_mb) = (2u32, 256u64, 100u64);
    let mut slow_reduce_ms = 0u64;
    let mut speculative = true;
    let (mut timeout_ms, mut task_mb, mut max_attempts) = (0u64, 0u64, 4u32);
    let mut sleep_per_key = 0u64;
    let mut it = args.iter();
    let num = |v: Option<&String>| -> MrResult<u64> {
        v.and_then(|v| v.parse().ok())
            .ok_or_else(|| fail("expected a number"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--reducers" => reducers = num(it.next())? as u32,
            "--reduce-memory-mb" => reduce_mb = num(it.next())?,
            "--sort-buffer-mb" => sort_mb = num(it.next())?,
            "--sleep-per-line" => faults.sleep_per_line = num(it.next())?,
            "--slow-first-reduce" => slow_reduce_ms = num(it.next())?,
            "--no-speculation" => speculative = false,
            "--allocate-mb" => faults.allocate_mb = num(it.next())?,
            "--task-timeout-ms" => timeout_ms = num(it.next())?,
            "--task-memory-mb" => task_mb = num(it.next())?,
            "--max-attempts" => max_attempts = num(it.next())? as u32,
            "--sleep-per-key" => sleep_per_key = num(it.next())?,
            "--panic-on" => faults.panic_on = it.next().cloned(),
            "--slow-first-attempt" => {
                let v = it.next().ok_or_else(|| fail("MAP:MS"))?;
                let (m, ms) = v.split_once(':').ok_or_else(|| fail("MAP:MS"))?;
                faults.slow_map = Some((
                    m.parse().map_err(|_| fail("MAP"))?,
                    ms.parse().map_err(|_| fail("MS"))?,
                ));
            }
            _ => paths.push(a.clone()),
        }
    }
    let [input, output] = paths.as_slice() else {
        return Err(fail("usage: faultyjob IN OUT [options]"));
    };
    Ok(Job::new("faulty-wordcount")
        .settings(|s| {
            s.reduce_memory_mb = reduce_mb;
            s.sort_buffer_mb = sort_mb;
            s.speculative = speculative;
            s.task_timeout_ms = timeout_ms;
            s.task_memory_mb = task_mb;
            s.max_attempts = max_attempts;
        })
        .stage(
            Stage::map("count", move || Tokenize(faults.clone(), Vec::new()))
                .input(Input::text(input))
                .combiner(|| Sum {
                    first_attempt_sleep_ms: 0,
                    sleep_per_key_ms: 0,
                })
                .reducer(
                    move || Sum {
                        first_attempt_sleep_ms: slow_reduce_ms,
                        sleep_per_key_ms: sleep_per_key,
                    },
                    reducers,
                )
                .output(Dest::text(output)),
        ))
}

fn main() {
    mapreduce::run(|env| job(env.args()))
}
