//! `wordcount IN OUT [--reducers N]`: counts the words (runs of non-whitespace) of the text
//! files under IN; OUT holds `word<TAB>count` lines, sorted by word within each part.
//! Run it with `mrctl submit target/release/wordcount --wait -- IN OUT`.

use mapreduce::{fail, Dest, Input, Job, Mapper, MrResult, Output, Record, Reducer, Stage, Values};

/// Emits (word, 1) for every word of a line.
struct Tokenize;

impl Mapper for Tokenize {
    type Key = String;
    type Value = u64;

    fn map(&mut self, record: &Record<'_>, out: &mut Output<'_, String, u64>) -> MrResult<()> {
        for word in record.line_lossy().split_whitespace() {
            out.emit(word, &1)?;
        }
        Ok(())
    }
}

/// Adds the counts of a word: the combiner and the reducer.
struct Sum;

impl Reducer for Sum {
    type Key = String;
    type Value = u64;
    type OutKey = String;
    type OutValue = u64;

    fn reduce(
        &mut self,
        word: String,
        counts: &mut Values<'_, String, u64>,
        out: &mut Output<'_, String, u64>,
    ) -> MrResult<()> {
        let total: u64 = counts.sum();
        out.emit(&word, &total)
    }
}

fn job(args: &[String]) -> MrResult<Job> {
    let usage = || fail("usage: wordcount IN OUT [--reducers N]");
    let mut paths = Vec::new();
    let mut reducers = 2;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--reducers" {
            let n = it.next().ok_or_else(usage)?;
            reducers = n
                .parse()
                .map_err(|_| fail(format!("--reducers {n:?}: not a number")))?;
        } else {
            paths.push(a.clone());
        }
    }
    let [input, output] = paths.as_slice() else {
        return Err(usage());
    };
    Ok(Job::new("wordcount").stage(
        Stage::map("count", || Tokenize)
            .input(Input::text(input))
            .combiner(|| Sum)
            .reducer(|| Sum, reducers)
            .output(Dest::text(output)),
    ))
}

fn main() {
    mapreduce::run(|env| job(env.args()))
}
