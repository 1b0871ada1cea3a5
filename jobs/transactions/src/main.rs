//! The bank's daily transaction pipeline (`docs/transactions.md`), written against the
//! public `mapreduce` API only.
//!
//! - `transactions run --transactions PATH --customers PATH --accounts PATH --output PATH
//!   [--join auto|map|reduce] [--reducers N] [--side-input-mb N]`: the job; submit it with
//!   `mrctl submit target/release/transactions --wait -- run ...`.
//! - `transactions gen --rows N --customers C --accounts A --seed S --out DIR`: writes a
//!   sample day's three CSV files to a local directory.

mod gen;
mod ingest;
mod join;
mod pipeline;
mod plan;
mod reports;
mod schema;
mod values;
mod window;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("gen") {
        let code = match gen::GenArgs::parse(&args[1..]) {
            Ok(g) => match gen::generate(&g) {
                Ok(()) => {
                    println!("wrote {} transactions to {}", g.rows, g.out.display());
                    0
                }
                Err(e) => {
                    eprintln!("error: writing {}: {e}", g.out.display());
                    1
                }
            },
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        };
        std::process::exit(code);
    }
    mapreduce::run(pipeline::job)
}
