//! `wcfloor FILE`: the single-threaded floor for the wordcount benchmark: reads the file once
//! and counts its words in one hash map, as a careful one-process program would; prints the
//! number of distinct words and the total.

use std::collections::HashMap;
use std::io::BufRead;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: wcfloor FILE"))?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut line = Vec::new();
    let mut total = 0u64;
    while r.read_until(b'\n', &mut line)? > 0 {
        for w in line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
        {
            total += 1;
            match counts.get_mut(w) {
                Some(c) => *c += 1,
                None => {
                    counts.insert(w.to_vec(), 1);
                }
            }
        }
        line.clear();
    }
    println!("{} distinct words, {total} words", counts.len());
    Ok(())
}
