//! `transactions gen`: a deterministic generator of a realistic day of inputs. Transactions
//! span the trailing weeks up to the day (so the windows have history), customers have a
//! heavy-tailed number of transactions, amounts cross the 10,000 and 50,000 thresholds, some
//! currencies are not in the rate table, a few percent of rows are invalid in every way the
//! validation knows, and some customers and accounts are missing from the reference data.

use crate::schema::{ACCOUNTS, CUSTOMERS, TXN_COLUMNS};
use mapreduce::Timestamp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenArgs {
    pub rows: u64,
    pub customers: u64,
    pub accounts: u64,
    pub seed: u64,
    pub out: PathBuf,
    /// Days of transactions, ending with the batch day.
    pub days: u64,
    /// Share of all transactions owned by one customer (0: none).
    pub hot_share: f64,
}

pub const GEN_USAGE: &str = "usage: transactions gen --rows N --customers C --accounts A --seed S --out DIR [--days D] [--hot-share F]";

impl GenArgs {
    pub fn parse(args: &[String]) -> Result<GenArgs, String> {
        let mut g = GenArgs {
            rows: 0,
            customers: 0,
            accounts: 0,
            seed: 1,
            out: PathBuf::new(),
            days: 45,
            hot_share: 0.0,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let v = it
                .next()
                .ok_or(format!("{flag} needs a value\n{GEN_USAGE}"))?;
            let num = || {
                v.parse::<u64>()
                    .map_err(|_| format!("{flag} {v:?}: not a number"))
            };
            match flag.as_str() {
                "--rows" => g.rows = num()?,
                "--customers" => g.customers = num()?,
                "--accounts" => g.accounts = num()?,
                "--seed" => g.seed = num()?,
                "--days" => g.days = num()?.max(1),
                "--out" => g.out = PathBuf::from(v),
                "--hot-share" => {
                    g.hot_share = v
                        .parse::<f64>()
                        .ok()
                        .filter(|f| (0.0..1.0).contains(f))
                        .ok_or(format!("--hot-share {v:?}: a fraction in [0, 1)"))?
                }
                _ => return Err(format!("unknown flag {flag:?}\n{GEN_USAGE}")),
            }
        }
        if g.rows == 0 || g.customers == 0 || g.accounts == 0 || g.out.as_os_str().is_empty() {
            return Err(format!(
                "--rows, --customers, --accounts and --out are required and positive\n{GEN_USAGE}"
            ));
        }
        Ok(g)
    }
}

fn pick<'a>(rng: &mut StdRng, weighted: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = weighted.iter().map(|w| w.1).sum();
    let mut x = rng.random_range(0..total);
    for (v, w) in weighted {
        if x < *w {
            return v;
        }
        x -= w;
    }
    weighted[0].0
}

fn create(dir: &Path, name: &str) -> std::io::Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(
        1 << 20,
        File::create(dir.join(name))?,
    ))
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

/// The batch day: 2026-11-20 00:00:00.
const DAY_START: i64 = 1_795_132_800;

pub fn customer_id(i: u64) -> String {
    format!("C{i:08}")
}

pub fn account_id(i: u64) -> String {
    format!("A{i:08}")
}

/// Writes `transactions.csv`, `customers.csv` and `accounts.csv` under `out`.
pub fn generate(g: &GenArgs) -> std::io::Result<()> {
    std::fs::create_dir_all(&g.out)?;
    let mut rng = StdRng::seed_from_u64(g.seed);

    let mut w = create(&g.out, "customers.csv")?;
    writeln!(w, "{},{}", CUSTOMERS.key, CUSTOMERS.columns.join(","))?;
    for i in 0..g.customers {
        let tier = pick(
            &mut rng,
            &[
                ("BASIC", 50),
                ("SILVER", 25),
                ("GOLD", 15),
                ("PLATINUM", 10),
            ],
        );
        let profile = pick(&mut rng, &[("LOW", 60), ("MEDIUM", 30), ("HIGH", 10)]);
        let country = pick(
            &mut rng,
            &[
                ("US", 70),
                ("GB", 6),
                ("DE", 5),
                ("FR", 4),
                ("JP", 4),
                ("CA", 4),
                ("BR", 3),
                ("SG", 2),
                ("", 2),
            ],
        );
        let industry = pick(
            &mut rng,
            &[
                ("RETAIL", 30),
                ("TECHNOLOGY", 20),
                ("MANUFACTURING", 15),
                ("FINANCE", 15),
                ("\"HEALTH, CARE\"", 10),
                ("", 10),
            ],
        );
        writeln!(
            w,
            "{},{tier},{profile},{country},{industry}",
            customer_id(i)
        )?;
    }
    w.flush()?;

    let mut w = create(&g.out, "accounts.csv")?;
    // Columns in another order than the transactions': they are found by name.
    writeln!(
        w,
        "status,{},account_type,balance,credit_limit",
        ACCOUNTS.key
    )?;
    for i in 0..g.accounts {
        let kind = pick(
            &mut rng,
            &[
                ("CHECKING", 40),
                ("SAVINGS", 30),
                ("CREDIT", 15),
                ("LOAN", 10),
                ("BROKERAGE", 5),
            ],
        );
        let status = pick(
            &mut rng,
            &[("ACTIVE", 85), ("DORMANT", 8), ("FROZEN", 4), ("CLOSED", 3)],
        );
        let balance = money(rng.random_range(-50_000i64..50_000_000));
        let limit = if kind == "CREDIT" || rng.random_bool(0.3) {
            money(rng.random_range(100_000i64..10_000_000))
        } else {
            String::new()
        };
        writeln!(w, "{status},{},{kind},{balance},{limit}", account_id(i))?;
    }
    w.flush()?;

    let mut w = create(&g.out, "transactions.csv")?;
    writeln!(w, "{}", TXN_COLUMNS.join(","))?;
    let span = g.days as i64 * 86_400;
    for i in 0..g.rows {
        let row = transaction(&mut rng, g, i, span);
        w.write_all(row.as_bytes())?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

fn transaction(rng: &mut StdRng, g: &GenArgs, i: u64, span: i64) -> String {
    // Heavy-tailed customers: a power of a uniform favours low ids; one hot customer on demand.
    let c = if g.hot_share > 0.0 && rng.random_bool(g.hot_share) {
        0
    } else {
        ((g.customers as f64) * rng.random::<f64>().powf(2.5)) as u64
    };
    let missing_customer = rng.random_bool(0.01);
    let customer = if missing_customer {
        customer_id(g.customers + rng.random_range(0..1000))
    } else {
        customer_id(c.min(g.customers - 1))
    };
    // A customer's accounts are c, c + C, c + 2C, ... below A.
    let owned = g.accounts.saturating_sub(c).div_ceil(g.customers).max(1);
    let a = (c + g.customers * rng.random_range(0..owned)) % g.accounts;
    let account = if rng.random_bool(0.01) {
        account_id(g.accounts + rng.random_range(0..1000))
    } else {
        account_id(a)
    };
    let currency = pick(
        rng,
        &[
            ("USD", 55),
            ("EUR", 15),
            ("GBP", 10),
            ("JPY", 8),
            ("CAD", 7),
            ("CHF", 3),
            ("AUD", 2),
        ],
    );
    // Log-normal amounts: a median near 150 with a tail past 10,000 and 50,000.
    let normal: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
    let mut amount = (5.0 + 1.9 * normal).exp();
    if currency == "JPY" {
        amount *= 100.0;
    }
    let cents = ((amount * 100.0) as i64).max(1);
    // Mostly business hours, some nights; weekends come with the dates.
    let day = rng.random_range(0..span / 86_400);
    let second = if rng.random_bool(0.15) {
        rng.random_range(0..6 * 3600)
    } else {
        rng.random_range(6 * 3600..86_400)
    };
    let ts = DAY_START - span + 86_400 + day * 86_400 + second;
    let settle = ts + 86_400 * rng.random_range(0..4);
    let kind = pick(rng, &[("DEBIT", 45), ("CREDIT", 40), ("TRANSFER", 15)]);
    let counterparty = match rng.random_range(0..20) {
        0 => String::new(),
        1 => "\"ACME, Inc\"".to_string(),
        _ => format!("CP{:06}", rng.random_range(0..50_000)),
    };
    let product = pick(
        rng,
        &[
            ("RETAIL", 40),
            ("CARDS", 25),
            ("CORPORATE", 15),
            ("WEALTH", 12),
            ("TREASURY", 8),
        ],
    );
    let channel = pick(
        rng,
        &[
            ("ONLINE", 35),
            ("MOBILE", 30),
            ("BRANCH", 15),
            ("ATM", 12),
            ("WIRE", 8),
        ],
    );
    let region = pick(
        rng,
        &[
            ("NA", 45),
            ("EU", 25),
            ("APAC", 18),
            ("LATAM", 8),
            ("MEA", 4),
        ],
    );
    let rating = pick(rng, &[("LOW", 70), ("MEDIUM", 22), ("HIGH", 8)]);
    let mut f: Vec<String> = vec![
        format!("T{:010}", i),
        account,
        customer,
        kind.into(),
        money(cents),
        currency.into(),
        Timestamp(ts * 1000).to_string(),
        Timestamp(settle * 1000).to_string(),
        counterparty,
        product.into(),
        channel.into(),
        region.into(),
        rating.into(),
    ];
    // About 4% invalid, in every way the validation knows.
    match rng.random_range(0..1000) {
        0..=5 => f[4] = money(-cents),
        6..=8 => f[4] = "0.00".into(),
        9..=13 => f[3] = pick(rng, &[("REFUND", 1), ("debit", 1), ("", 1)]).into(),
        14..=18 => f[5] = pick(rng, &[("usd", 1), ("US", 1), ("EURO", 1), ("", 1)]).into(),
        19..=22 => f[1] = String::new(),
        23..=26 => f[2] = String::new(),
        27..=29 => f[4] = pick(rng, &[("N/A", 1), ("\"12,50\"", 1), ("1.234", 1)]).into(),
        30..=32 => {
            f[6] = pick(
                rng,
                &[
                    ("2026-02-30 10:00:00", 1),
                    ("yesterday", 1),
                    ("2026-11-20T10:00:00", 1),
                ],
            )
            .into()
        }
        33..=34 => {
            f.pop();
        }
        35 => f[8] = "\"unterminated".into(),
        36..=37 => {
            f[1] = String::new();
            f[4] = money(-cents);
        }
        _ => {}
    }
    f.join(",")
}
