//! `zipfwords SIZE_MIB OUT`: writes about SIZE_MIB of text whose words follow a Zipf law
//! (exponent 1 over 1,000,000 distinct words), ten words a line. Deterministic.

use std::io::Write;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [size, out] = args.as_slice() else {
        anyhow::bail!("usage: zipfwords SIZE_MIB OUT");
    };
    let target: u64 = size.parse::<u64>()? << 20;
    const WORDS: usize = 1_000_000;
    // Cumulative weights of ranks 1..=WORDS for weight 1/rank.
    let mut cdf = Vec::with_capacity(WORDS);
    let mut total = 0.0f64;
    for r in 1..=WORDS {
        total += 1.0 / r as f64;
        cdf.push(total);
    }
    let names: Vec<String> = (0..WORDS)
        .map(|i| {
            // Pronounceable-ish words of 2 to 12 letters.
            let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let len = 2 + (i % 11);
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (b'a' + (x % 26) as u8) as char
                })
                .collect()
        })
        .collect();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(out)?);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut written = 0u64;
    let mut line = String::new();
    while written < target {
        line.clear();
        for i in 0..10 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64 * total;
            let rank = cdf.partition_point(|&c| c < u).min(WORDS - 1);
            if i > 0 {
                line.push(' ');
            }
            line.push_str(&names[rank]);
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    w.flush()?;
    Ok(())
}
