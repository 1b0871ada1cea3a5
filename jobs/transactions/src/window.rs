//! The rolling windows (docs/transactions.md, step 3) by secondary sort: records are partitioned
//! by customer (account) and sorted by time, and each transaction is also sent as two small
//! events: its amount entering the window at its time and leaving it at the window's end.
//! One pass over a group keeps a running sum and count, so no group, however large, is held
//! in memory, and every transaction at exactly the same time is included (SQL's RANGE ...
//! CURRENT ROW): at one instant, entries sort before transactions, and leaves after them.

use crate::ingest::Ingest;
use crate::schema::{
    report_key, Agg, Event, ReportKey, Row, Txn, ACCOUNT_ID, BASEL, COUNTERPARTY, CUSTOMERS_SEEN,
    CUSTOMER_ID, PRODUCT_TYPE, REGION, RISK_SUMMARY, TOTALS, TXN_DATE, TXN_ID, TXN_TYPE,
};
use crate::values::{format_usd, USD_DIGITS};
use mapreduce::{Mapper, MrResult, Output, Record, Reducer, TaskContext, Timestamp, Values};
use std::collections::HashMap;

/// (customer or account id, time in ms, event order at that time, transaction id).
pub type WindowKey = (String, i64, u8, String);
const ENTER: u8 = 0;
const TXN: u8 = 1;
const LEAVE: u8 = 2;

const DAY_MS: i64 = Timestamp::MS_PER_DAY;

/// Which window a stage computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// customer_30d_volume and customer_30d_count.
    Customer30d,
    /// account_7d_volume.
    Account7d,
}

impl Window {
    fn column(self) -> usize {
        match self {
            Window::Customer30d => CUSTOMER_ID,
            Window::Account7d => ACCOUNT_ID,
        }
    }
    fn length(self) -> i64 {
        match self {
            Window::Customer30d => 30 * DAY_MS,
            Window::Account7d => 7 * DAY_MS,
        }
    }
}

/// Emits each transaction and its entering and leaving events under its customer (account).
pub struct WindowMapper {
    pub window: Window,
    pub ingest: Ingest,
}

impl Mapper for WindowMapper {
    type Key = WindowKey;
    type Value = Event;

    fn setup(&mut self, ctx: &mut TaskContext) -> MrResult<()> {
        self.ingest.setup(ctx)
    }

    fn map(&mut self, rec: &Record<'_>, out: &mut Output<'_, WindowKey, Event>) -> MrResult<()> {
        let Some(txn) = self.ingest.txn(rec, out)? else {
            return Ok(());
        };
        let id = txn
            .col(self.window.column())
            .unwrap_or_default()
            .to_string();
        let (ts, usd) = (txn.ts.0, txn.amount_usd);
        out.emit(&(id.clone(), ts, ENTER, String::new()), &Event::Enter(usd))?;
        out.emit(
            &(id.clone(), ts + self.window.length(), LEAVE, String::new()),
            &Event::Leave(usd),
        )?;
        let txn_id = txn.col(TXN_ID).unwrap_or_default().to_string();
        out.emit(&(id, ts, TXN, txn_id), &Event::Txn(Box::new(txn)))
    }

    fn cleanup(&mut self, out: &mut Output<'_, WindowKey, Event>) -> MrResult<()> {
        self.ingest.cleanup(out)
    }
}

/// Streams one group's events, handing each transaction the window's sum and count.
fn scan(
    values: &mut Values<'_, WindowKey, Event>,
    mut each: impl FnMut(Box<Txn>, i64, u64) -> MrResult<()>,
) -> MrResult<()> {
    let (mut sum, mut count) = (0i64, 0u64);
    for event in values {
        match event {
            Event::Enter(usd) => {
                sum += usd;
                count += 1;
            }
            Event::Leave(usd) => {
                sum -= usd;
                count = count.saturating_sub(1);
            }
            Event::Txn(txn) => each(txn, sum, count)?,
        }
    }
    Ok(())
}

/// The named output the customer window counts distinct customers to.
pub const CUSTOMER_COUNTS: &str = "customers";

/// Adds the 30-day customer window; counts the distinct customers.
#[derive(Default)]
pub struct CustomerWindowReducer {
    customers: u64,
}

impl Reducer for CustomerWindowReducer {
    type Key = WindowKey;
    type Value = Event;
    type OutKey = ();
    type OutValue = Txn;

    fn reduce(
        &mut self,
        _key: WindowKey,
        values: &mut Values<'_, WindowKey, Event>,
        out: &mut Output<'_, (), Txn>,
    ) -> MrResult<()> {
        self.customers += 1;
        scan(values, |mut txn, sum, count| {
            txn.customer_30d_volume = sum;
            txn.customer_30d_count = count;
            out.emit(&(), &txn)
        })
    }

    fn cleanup(&mut self, out: &mut Output<'_, (), Txn>) -> MrResult<()> {
        let seen = Agg {
            count: self.customers,
            ..Agg::default()
        };
        out.emit_to(
            CUSTOMER_COUNTS,
            &report_key(CUSTOMERS_SEEN, [None; 3]),
            &seen,
        )
    }
}

/// Named outputs of the account window stage.
pub const PROCESSED: &str = "processed";
pub const AML_SAR: &str = "aml_sar";
pub const CTR: &str = "ctr";
pub const AML_SAR_HEADER: [&str; 6] = [
    "transaction_id",
    "customer_id",
    "amount_usd",
    "risk_score",
    "risk_category",
    "transaction_date",
];
pub const CTR_HEADER: [&str; 6] = [
    "transaction_id",
    "customer_id",
    "account_id",
    "amount_usd",
    "transaction_type",
    "counterparty_id",
];

/// Adds the 7-day account window, scores each transaction and writes it to `processed/`,
/// `aml_sar/` and `ctr/`; sums the reports' figures per task, emitted at the end.
#[derive(Default)]
pub struct AccountWindowReducer {
    partials: HashMap<ReportKey, Agg>,
}

impl Reducer for AccountWindowReducer {
    type Key = WindowKey;
    type Value = Event;
    type OutKey = ReportKey;
    type OutValue = Agg;

    fn reduce(
        &mut self,
        _key: WindowKey,
        values: &mut Values<'_, WindowKey, Event>,
        out: &mut Output<'_, ReportKey, Agg>,
    ) -> MrResult<()> {
        let partials = &mut self.partials;
        scan(values, |mut txn, sum, _| {
            txn.account_7d_volume = sum;
            txn.score();
            write_transaction(&txn, out)?;
            add_partials(partials, &txn);
            Ok(())
        })
    }

    fn cleanup(&mut self, out: &mut Output<'_, ReportKey, Agg>) -> MrResult<()> {
        let mut partials: Vec<_> = self.partials.drain().collect();
        partials.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in partials {
            out.emit(&k, &v)?;
        }
        Ok(())
    }
}

const LARGE_USD: i128 = 10_000 * 10i128.pow(USD_DIGITS);
const BASEL_USD: i128 = 50_000 * 10i128.pow(USD_DIGITS);

fn write_transaction(txn: &Txn, out: &mut Output<'_, ReportKey, Agg>) -> MrResult<()> {
    let dir = format!(
        "region={}/product_type={}",
        partition_value(txn.col(REGION)),
        partition_value(txn.col(PRODUCT_TYPE))
    );
    out.emit_to_dir(PROCESSED, &dir, &(), txn)?;
    let col = |i: usize| txn.col(i).map(str::to_string);
    let usd = Some(format_usd(txn.amount_usd.into()));
    if txn.risk.score >= 50 {
        let row = Row(vec![
            col(TXN_ID),
            col(CUSTOMER_ID),
            usd.clone(),
            Some(txn.risk.score.to_string()),
            Some(txn.risk.category().to_string()),
            col(TXN_DATE),
        ]);
        out.emit_to(AML_SAR, &(), &row)?;
    }
    if i128::from(txn.amount_usd) > LARGE_USD {
        let row = Row(vec![
            col(TXN_ID),
            col(CUSTOMER_ID),
            col(ACCOUNT_ID),
            usd,
            col(TXN_TYPE),
            col(COUNTERPARTY),
        ]);
        out.emit_to(CTR, &(), &row)?;
    }
    Ok(())
}

fn add_partials(partials: &mut HashMap<ReportKey, Agg>, txn: &Txn) {
    let usd = i128::from(txn.amount_usd);
    let category = Some(txn.risk.category());
    let (region, product) = (txn.col(REGION), txn.col(PRODUCT_TYPE));
    let one = |other: u64| Agg {
        usd,
        count: 1,
        other,
    };
    if usd > BASEL_USD {
        let k = report_key(BASEL, [product, category, None]);
        partials.entry(k).or_default().add(&one(0));
    }
    let k = report_key(RISK_SUMMARY, [region, product, category]);
    partials
        .entry(k)
        .or_default()
        .add(&one(u64::from(txn.risk.score)));
    let high = u64::from(txn.risk.category() == "HIGH");
    partials
        .entry(report_key(TOTALS, [None; 3]))
        .or_default()
        .add(&one(high));
}

/// A partition directory's value as Hive writes it: null as `__HIVE_DEFAULT_PARTITION__`,
/// characters outside `[A-Za-z0-9._-]` as `%XX`.
pub fn partition_value(v: Option<&str>) -> String {
    let Some(v) = v else {
        return "__HIVE_DEFAULT_PARTITION__".into();
    };
    let mut s = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}
