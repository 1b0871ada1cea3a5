//! A straightforward, separate implementation of `docs/transactions.md` for the golden
//! test: everything in memory, floats, windows by scanning each customer's whole list. It
//! shares no code with the pipeline in `jobs/transactions`.

use std::collections::{BTreeMap, HashMap};

/// What the pipeline should have written, by report.
#[derive(Debug, Default)]
pub struct Expected {
    /// transaction_id -> (partition directory, row by column name).
    pub processed: BTreeMap<String, (String, BTreeMap<String, String>)>,
    /// (transaction_id, failed_rules) of every quarantined row.
    pub quarantine: Vec<(String, String)>,
    /// Group columns -> (total, count, average).
    pub basel: BTreeMap<Vec<String>, (f64, u64, f64)>,
    pub risk_summary: BTreeMap<Vec<String>, (f64, u64, f64)>,
    /// transaction_id -> the report's row.
    pub aml_sar: BTreeMap<String, Vec<String>>,
    pub ctr: BTreeMap<String, Vec<String>>,
    pub summary: BTreeMap<String, f64>,
    pub failures: BTreeMap<String, u64>,
}

/// Splits one line of CSV; None when its quotes do not parse.
pub fn split_csv(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                    match chars.peek() {
                        None | Some(',') => {}
                        _ => return None,
                    }
                }
            } else {
                cur.push(c);
            }
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            field_start = true;
            continue;
        } else if c == '"' && field_start {
            quoted = true;
        } else if c == '"' {
            return None;
        } else {
            cur.push(c);
        }
        field_start = false;
    }
    if quoted {
        return None;
    }
    out.push(cur);
    Some(out)
}

/// A CSV row by column name.
type NamedRow = BTreeMap<String, String>;

/// Rows of a CSV text, each line with its fields by column name (None: it does not parse).
fn table(text: &str) -> (Vec<String>, Vec<(String, Option<NamedRow>)>) {
    let mut lines = text.lines();
    let header = split_csv(lines.next().unwrap_or_default()).unwrap_or_default();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let row = split_csv(l)
                .filter(|f| f.len() == header.len())
                .map(|f| header.iter().cloned().zip(f).collect());
            (l.to_string(), row)
        })
        .collect();
    (header, rows)
}

fn amount(s: &str) -> Option<f64> {
    let (int, frac) = s
        .trim_start_matches('-')
        .split_once('.')
        .unwrap_or((s.trim_start_matches('-'), ""));
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    let ok = !(int.is_empty() && frac.is_empty())
        && digits(int)
        && digits(frac)
        && (!s.contains('.') || (1..=2).contains(&frac.len()))
        && s.matches('-').count() <= 1;
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

/// Seconds since 1970 of `yyyy-MM-dd HH:mm:ss`, counting days year by year.
fn timestamp(s: &str) -> Option<i64> {
    let (date, time) = s.split_once(' ')?;
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let t: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if d.len() != 3 || t.len() != 3 || date.len() != 10 || time.len() != 8 {
        return None;
    }
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap(d[0]) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&d[1]) || d[2] < 1 || d[2] > month_days[d[1] as usize - 1] {
        return None;
    }
    if t[0] > 23 || t[1] > 59 || t[2] > 59 {
        return None;
    }
    let mut days = 0;
    for y in 1970..d[0] {
        days += if leap(y) { 366 } else { 365 };
    }
    days += month_days[..d[1] as usize - 1].iter().sum::<i64>() + d[2] - 1;
    Some(days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2])
}

fn rate(c: &str) -> f64 {
    match c {
        "EUR" => 1.1,
        "GBP" => 1.3,
        "JPY" => 0.009,
        "CAD" => 0.8,
        _ => 1.0,
    }
}

struct Valid {
    row: BTreeMap<String, String>,
    ts: i64,
    usd: f64,
}

/// Computes every report from the three CSV texts.
pub fn compute(transactions: &str, customers: &str, accounts: &str) -> Expected {
    let mut e = Expected::default();
    let by_key = |text: &str, key: &str| -> HashMap<String, BTreeMap<String, String>> {
        let mut m = HashMap::new();
        for (_, row) in table(text).1 {
            if let Some(r) = row {
                let k = r[key].clone();
                if !k.is_empty() {
                    m.entry(k).or_insert(r);
                }
            }
        }
        m
    };
    let cust = by_key(customers, "customer_id");
    let acct = by_key(accounts, "account_id");
    let (_, rows) = table(transactions);
    let mut valid: Vec<Valid> = Vec::new();
    let total = rows.len();
    for (line, row) in rows {
        let Some(row) = row else {
            e.quarantine.push((
                line.split(',').next().unwrap_or("").to_string(),
                "malformed".into(),
            ));
            *e.failures.entry("malformed".into()).or_default() += 1;
            continue;
        };
        let mut failed = Vec::new();
        let a = &row["amount"];
        let amt = amount(a);
        let ts = timestamp(&row["transaction_date"]);
        if (!a.is_empty() && amt.is_none()) || ts.is_none() {
            failed.push("malformed");
        }
        if a.is_empty() || amt.is_some_and(|x| x <= 0.0) {
            failed.push("amount_positive");
        }
        if !["DEBIT", "CREDIT", "TRANSFER"].contains(&row["transaction_type"].as_str()) {
            failed.push("valid_type");
        }
        let c = &row["currency"];
        if !(c.len() == 3 && c.chars().all(|x| x.is_ascii_uppercase())) {
            failed.push("valid_currency");
        }
        if row["account_id"].is_empty() {
            failed.push("account_not_null");
        }
        if row["customer_id"].is_empty() {
            failed.push("customer_not_null");
        }
        if failed.is_empty() {
            let usd = amt.unwrap_or(0.0) * rate(c);
            valid.push(Valid {
                ts: ts.unwrap_or(0),
                usd,
                row,
            });
        } else {
            for f in &failed {
                *e.failures.entry(f.to_string()).or_default() += 1;
            }
            e.quarantine
                .push((row["transaction_id"].clone(), failed.join(";")));
        }
    }
    let window = |key: &str, days: i64| -> Vec<(f64, u64)> {
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, v) in valid.iter().enumerate() {
            groups.entry(v.row[key].as_str()).or_default().push(i);
        }
        let mut out = vec![(0.0, 0); valid.len()];
        for members in groups.values() {
            for &i in members {
                let t = valid[i].ts;
                for &j in members {
                    if valid[j].ts >= t - days * 86_400 && valid[j].ts <= t {
                        out[i].0 += valid[j].usd;
                        out[i].1 += 1;
                    }
                }
            }
        }
        out
    };
    let c30 = window("customer_id", 30);
    let a7 = window("account_id", 7);
    let mut customers_seen = std::collections::HashSet::new();
    let (mut volume, mut high) = (0.0, 0u64);
    let mut basel: BTreeMap<Vec<String>, (f64, u64)> = BTreeMap::new();
    let mut risk: BTreeMap<Vec<String>, (f64, u64, f64)> = BTreeMap::new();
    for (i, v) in valid.iter().enumerate() {
        let mut row = v.row.clone();
        let c = cust.get(&row["customer_id"]);
        for col in ["customer_tier", "risk_profile", "country", "industry"] {
            row.insert(col.into(), c.map(|c| c[col].clone()).unwrap_or_default());
        }
        let a = acct.get(&row["account_id"]);
        for col in ["account_type", "balance", "credit_limit", "status"] {
            row.insert(col.into(), a.map(|a| a[col].clone()).unwrap_or_default());
        }
        let (vol, count) = c30[i];
        let unusual = v.usd > 5.0 * vol / count as f64;
        let frequent = count > 100;
        let country = &row["country"];
        let cross = !country.is_empty() && country != "US" && v.usd > 10_000.0;
        let score = 30 * u32::from(unusual)
            + 20 * u32::from(frequent)
            + 25 * u32::from(cross)
            + if row["risk_profile"] == "HIGH" { 15 } else { 0 };
        let category = if score >= 50 {
            "HIGH"
        } else if score >= 25 {
            "MEDIUM"
        } else {
            "LOW"
        };
        let day = v.ts.div_euclid(86_400);
        let weekday = (day + 4).rem_euclid(7); // 1970-01-01 was a Thursday; 0 = Sunday
        for (k, val) in [
            (
                "transaction_hour",
                (v.ts.rem_euclid(86_400) / 3600).to_string(),
            ),
            ("is_weekend", (weekday == 0 || weekday == 6).to_string()),
            ("amount_usd", v.usd.to_string()),
            ("customer_30d_volume", vol.to_string()),
            ("customer_30d_count", count.to_string()),
            ("account_7d_volume", a7[i].0.to_string()),
            ("unusual_amount_flag", unusual.to_string()),
            ("high_frequency_flag", frequent.to_string()),
            ("cross_border_flag", cross.to_string()),
            ("risk_score", score.to_string()),
            ("risk_category", category.to_string()),
        ] {
            row.insert(k.into(), val);
        }
        let part = |v: &str| {
            if v.is_empty() {
                "__HIVE_DEFAULT_PARTITION__".to_string()
            } else {
                v.to_string()
            }
        };
        let dir = format!(
            "region={}/product_type={}",
            part(&row["region"]),
            part(&row["product_type"])
        );
        let id = row["transaction_id"].clone();
        let text = |k: &str| row[k].clone();
        if score >= 50 {
            high += 1;
            e.aml_sar.insert(
                id.clone(),
                vec![
                    text("transaction_id"),
                    text("customer_id"),
                    v.usd.to_string(),
                    score.to_string(),
                    category.into(),
                    text("transaction_date"),
                ],
            );
        }
        if v.usd > 10_000.0 {
            e.ctr.insert(
                id.clone(),
                vec![
                    text("transaction_id"),
                    text("customer_id"),
                    text("account_id"),
                    v.usd.to_string(),
                    text("transaction_type"),
                    text("counterparty_id"),
                ],
            );
        }
        if v.usd > 50_000.0 {
            let g = basel
                .entry(vec![text("product_type"), category.into()])
                .or_default();
            g.0 += v.usd;
            g.1 += 1;
        }
        let g = risk
            .entry(vec![text("region"), text("product_type"), category.into()])
            .or_default();
        g.0 += v.usd;
        g.1 += 1;
        g.2 += f64::from(score);
        volume += v.usd;
        customers_seen.insert(text("customer_id"));
        e.processed.insert(id, (dir, row));
    }
    e.basel = basel
        .into_iter()
        .map(|(k, (s, n))| (k, (s, n, s / n as f64)))
        .collect();
    e.risk_summary = risk
        .into_iter()
        .map(|(k, (s, n, sc))| (k, (s, n, sc / n as f64)))
        .collect();
    let n = valid.len() as f64;
    for (k, v) in [
        ("total_records", total as f64),
        ("valid_records", n),
        ("invalid_records", (total - valid.len()) as f64),
        ("total_transactions", n),
        ("total_volume_usd", volume),
        ("avg_transaction_size", volume / n),
        ("unique_customers", customers_seen.len() as f64),
        ("high_risk_transactions", high as f64),
    ] {
        e.summary.insert(k.into(), v);
    }
    e
}
