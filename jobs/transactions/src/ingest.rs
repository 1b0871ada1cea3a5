//! Reading transactions, in whichever stage comes first: validation (docs/transactions.md, step 1)
//! with invalid rows quarantined and counted, the enrichment columns computed, and the
//! map-side joins against reference tables loaded whole; later stages decode what an earlier
//! stage wrote.

use crate::plan::Plan;
use crate::schema::{
    report_key, Agg, RefColumns, Row, Table, Txn, ACCOUNTS, ACCOUNT_ID, AMOUNT, CURRENCY,
    CUSTOMERS, CUSTOMER_ID, RECORDS, RULE, TXN_COLUMNS, TXN_DATE, TXN_TYPE,
};
use crate::values::{parse_cents, to_usd};
use mapreduce::{fail, Fields, Key, MrResult, Output, Record, TaskContext, Timestamp};
use std::collections::HashMap;
use std::sync::Arc;

/// The validation rules, in the order `failed_rules` lists them.
pub const RULES: [&str; 6] = [
    "malformed",
    "amount_positive",
    "valid_type",
    "valid_currency",
    "account_not_null",
    "customer_not_null",
];
const MALFORMED: usize = 0;

/// The counter group of the validation figures.
pub const VALIDATION: &str = "Validation";
/// The named outputs the first stage writes.
pub const QUARANTINE: &str = "quarantine";
pub const VALIDATION_COUNTS: &str = "validation";

/// The quarantine's columns.
pub fn quarantine_header() -> Vec<&'static str> {
    let mut h = TXN_COLUMNS.to_vec();
    h.push("failed_rules");
    h
}

/// A reference table held in memory for a map-side join.
type Lookup = HashMap<String, RefColumns>;

/// Turns a stage's input records into transactions.
pub struct Ingest {
    plan: Arc<Plan>,
    /// Whether this stage reads the transactions CSV (else an earlier stage's records).
    first: bool,
    customers: Option<Lookup>,
    accounts: Option<Lookup>,
    /// Where each of TXN_COLUMNS is in the current file, with that file's header.
    positions: Option<(Vec<String>, [usize; 13])>,
    total: u64,
    invalid: u64,
    failures: [u64; 6],
}

impl Ingest {
    pub fn new(plan: Arc<Plan>, first: bool) -> Self {
        Ingest {
            plan,
            first,
            customers: None,
            accounts: None,
            positions: None,
            total: 0,
            invalid: 0,
            failures: [0; 6],
        }
    }

    /// Loads the tables this stage joins map-side.
    pub fn setup(&mut self, ctx: &mut TaskContext) -> MrResult<()> {
        if self.first && self.plan.customers_map {
            self.customers = Some(load_table(ctx, CUSTOMERS)?);
        }
        if self.first && self.plan.accounts_map {
            self.accounts = Some(load_table(ctx, ACCOUNTS)?);
        }
        Ok(())
    }

    /// The valid transaction of an input record of input 0; None for an invalid row (then
    /// quarantined) or a blank line.
    pub fn txn<K: Key + Fields, V: mapreduce::Value>(
        &mut self,
        rec: &Record<'_>,
        out: &mut Output<'_, K, V>,
    ) -> MrResult<Option<Txn>> {
        if !self.first {
            let ((), txn) = rec.decode::<(), Txn>()?;
            return Ok(Some(txn));
        }
        if rec.bytes().iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let positions = self.positions(rec, out.context())?;
        self.total += 1;
        match validate(rec, &positions) {
            Ok(mut txn) => {
                if let Some(t) = &self.customers {
                    txn.customer = lookup(t, txn.col(CUSTOMER_ID));
                }
                if let Some(t) = &self.accounts {
                    txn.account = lookup(t, txn.col(ACCOUNT_ID));
                }
                Ok(Some(txn))
            }
            Err((row, failed)) => {
                self.invalid += 1;
                let mut names = Vec::new();
                for (i, rule) in RULES.iter().enumerate() {
                    if failed & (1 << i) != 0 {
                        self.failures[i] += 1;
                        names.push(*rule);
                    }
                }
                let mut row = row;
                row.0.push(Some(names.join(";")));
                out.emit_to(QUARANTINE, &(), &row)?;
                Ok(None)
            }
        }
    }

    /// Counts what was read and quarantined, for the counters and `summary.json`.
    pub fn cleanup<K: Key + Fields, V: mapreduce::Value>(
        &mut self,
        out: &mut Output<'_, K, V>,
    ) -> MrResult<()> {
        if !self.first {
            return Ok(());
        }
        let n = |count: u64| Agg {
            count,
            ..Agg::default()
        };
        out.count(VALIDATION, "total_records", self.total);
        out.count(VALIDATION, "invalid_records", self.invalid);
        out.count(VALIDATION, "valid_records", self.total - self.invalid);
        let total = report_key(RECORDS, [Some("total_records"), None, None]);
        out.emit_to(VALIDATION_COUNTS, &total, &n(self.total))?;
        let invalid = report_key(RECORDS, [Some("invalid_records"), None, None]);
        out.emit_to(VALIDATION_COUNTS, &invalid, &n(self.invalid))?;
        for (rule, &count) in RULES.iter().zip(&self.failures) {
            out.count(VALIDATION, rule, count);
            out.emit_to(
                VALIDATION_COUNTS,
                &report_key(RULE, [Some(rule), None, None]),
                &n(count),
            )?;
        }
        Ok(())
    }

    fn positions(&mut self, rec: &Record<'_>, ctx: &mut TaskContext) -> MrResult<[usize; 13]> {
        let columns = rec
            .columns()
            .ok_or_else(|| fail("the transactions input is not read as CSV"))?;
        if let Some((names, p)) = &self.positions {
            if *names == columns.names {
                return Ok(*p);
            }
        }
        let mut p = [0; 13];
        for (i, name) in TXN_COLUMNS.iter().enumerate() {
            p[i] = columns.position(name).ok_or_else(|| {
                fail(format!(
                    "transactions file {} has no column {name:?} (its header: {})",
                    ctx.split_path(),
                    columns.names.join(",")
                ))
            })?;
        }
        self.positions = Some((columns.names.clone(), p));
        Ok(p)
    }
}

fn lookup(table: &Lookup, key: Option<&str>) -> RefColumns {
    key.and_then(|k| table.get(k)).cloned().unwrap_or_default()
}

/// A transaction row checked against every rule: the transaction, or the row as read (in
/// TXN_COLUMNS order) with a bit set per failed rule.
fn validate(rec: &Record<'_>, pos: &[usize; 13]) -> Result<Txn, (Row, u32)> {
    let fields = match rec.fields() {
        Ok(f) => f,
        Err(_) => return Err((unparsed_row(rec, pos), 1 << MALFORMED)),
    };
    let cols: Vec<Option<String>> = pos
        .iter()
        .map(|&p| fields.get(p).filter(|f| !f.is_empty()).cloned())
        .collect();
    let col = |i: usize| cols[i].as_deref();
    let mut failed = 0u32;
    let mut fail_rule = |name: &str| {
        if let Some(i) = RULES.iter().position(|r| *r == name) {
            failed |= 1 << i;
        }
    };
    let cents = match col(AMOUNT) {
        None => {
            fail_rule("amount_positive");
            None
        }
        Some(a) => match parse_cents(a) {
            None => {
                fail_rule("malformed");
                None
            }
            Some(c) if c <= 0 => {
                fail_rule("amount_positive");
                None
            }
            Some(c) => Some(c),
        },
    };
    let ts = col(TXN_DATE).and_then(|d| Timestamp::parse(d).ok());
    if ts.is_none() {
        fail_rule("malformed");
    }
    if !matches!(col(TXN_TYPE), Some("DEBIT" | "CREDIT" | "TRANSFER")) {
        fail_rule("valid_type");
    }
    let currency = col(CURRENCY).unwrap_or("");
    if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
        fail_rule("valid_currency");
    }
    if col(ACCOUNT_ID).is_none() {
        fail_rule("account_not_null");
    }
    if col(CUSTOMER_ID).is_none() {
        fail_rule("customer_not_null");
    }
    match (cents, ts) {
        (Some(cents), Some(ts)) if failed == 0 => Ok(Txn {
            amount_usd: to_usd(cents, currency),
            ts,
            cols,
            ..Txn::default()
        }),
        _ => Err((
            Row(pos
                .iter()
                .map(|&p| Some(fields.get(p).cloned().unwrap_or_default()))
                .collect()),
            failed,
        )),
    }
}

/// A row whose fields could not be parsed (bad quoting, not UTF-8): split at every comma and
/// laid out by the header; fields beyond the header's stay with the last column.
fn unparsed_row(rec: &Record<'_>, pos: &[usize; 13]) -> Row {
    let text = rec.line_lossy();
    let width = rec.columns().map_or(13, |c| c.names.len()).max(1);
    let mut raw: Vec<String> = text.splitn(width, ',').map(str::to_string).collect();
    raw.resize(width, String::new());
    Row(pos.iter().map(|&p| Some(raw[p].clone())).collect())
}

/// Reads a reference table from the stage's side input of the same name.
fn load_table(ctx: &mut TaskContext, table: Table) -> MrResult<Lookup> {
    let mut map = Lookup::new();
    let mut bad = 0u64;
    ctx.for_each_side_record(table.name, |rec| {
        match reference_row(rec, table)? {
            Some((key, cols)) => {
                map.entry(key).or_insert(cols);
            }
            None => bad += 1,
        }
        Ok(())
    })?;
    ctx.count(VALIDATION, &format!("{}_rows_skipped", table.name), bad);
    Ok(map)
}

/// A reference row's key and join columns; None for a malformed row or a null key (skipped and
/// counted). A file without the table's columns is an error.
pub fn reference_row(rec: &Record<'_>, table: Table) -> MrResult<Option<(String, RefColumns)>> {
    let columns = rec
        .columns()
        .ok_or_else(|| fail(format!("the {} input is not read as CSV", table.name)))?;
    let position = |name: &str| {
        columns.position(name).ok_or_else(|| {
            fail(format!(
                "{} file has no column {name:?} (its header: {})",
                table.name,
                columns.names.join(",")
            ))
        })
    };
    let key_at = position(table.key)?;
    let mut at = [0; 4];
    for (i, c) in table.columns.iter().enumerate() {
        at[i] = position(c)?;
    }
    let Ok(fields) = rec.fields() else {
        return Ok(None);
    };
    let key = &fields[key_at];
    if key.is_empty() {
        return Ok(None);
    }
    let cols = at.map(|p| Some(fields[p].clone()).filter(|f| !f.is_empty()));
    Ok(Some((key.clone(), cols)))
}
