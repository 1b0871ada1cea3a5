//! The pipeline's records: the columns of the inputs and outputs, a transaction as it moves
//! between stages, and the small records the reports are summed from.

use crate::values::{format_usd, is_weekend};
use mapreduce::{serde_value, FieldWriter, Fields, Timestamp};
use serde::{Deserialize, Serialize};

/// The transactions input's columns, in the order every output writes them.
pub const TXN_COLUMNS: [&str; 13] = [
    "transaction_id",
    "account_id",
    "customer_id",
    "transaction_type",
    "amount",
    "currency",
    "transaction_date",
    "settlement_date",
    "counterparty_id",
    "product_type",
    "channel",
    "region",
    "risk_rating",
];
pub const TXN_ID: usize = 0;
pub const ACCOUNT_ID: usize = 1;
pub const CUSTOMER_ID: usize = 2;
pub const TXN_TYPE: usize = 3;
pub const AMOUNT: usize = 4;
pub const CURRENCY: usize = 5;
pub const TXN_DATE: usize = 6;
pub const COUNTERPARTY: usize = 8;
pub const PRODUCT_TYPE: usize = 9;
pub const REGION: usize = 11;

/// A reference table: its key column and the columns a join adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub key: &'static str,
    pub columns: [&'static str; 4],
}

pub const CUSTOMERS: Table = Table {
    name: "customers",
    key: "customer_id",
    columns: ["customer_tier", "risk_profile", "country", "industry"],
};
pub const ACCOUNTS: Table = Table {
    name: "accounts",
    key: "account_id",
    columns: ["account_type", "balance", "credit_limit", "status"],
};
pub const RISK_PROFILE: usize = 1;
pub const COUNTRY: usize = 2;

/// The columns of `processed/`: the input's, the enrichment's, then the risk metrics'.
pub fn processed_header() -> Vec<&'static str> {
    let mut h = TXN_COLUMNS.to_vec();
    h.extend(CUSTOMERS.columns);
    h.extend(ACCOUNTS.columns);
    h.extend([
        "transaction_hour",
        "is_weekend",
        "amount_usd",
        "customer_30d_volume",
        "customer_30d_count",
        "account_7d_volume",
        "unusual_amount_flag",
        "high_frequency_flag",
        "cross_border_flag",
        "risk_score",
        "risk_category",
    ]);
    h
}

/// Nulls for a reference row that did not match.
pub type RefColumns = [Option<String>; 4];

/// A valid transaction on its way through the stages; each stage fills in more of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Txn {
    /// The input columns (None: null).
    pub cols: Vec<Option<String>>,
    /// transaction_date.
    pub ts: Timestamp,
    /// In units of 10^-5 USD.
    pub amount_usd: i64,
    pub customer: RefColumns,
    pub account: RefColumns,
    pub customer_30d_volume: i64,
    pub customer_30d_count: u64,
    pub account_7d_volume: i64,
    pub risk: Risk,
}
serde_value!(Txn);

/// The risk flags and score of a transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Risk {
    pub unusual_amount: bool,
    pub high_frequency: bool,
    pub cross_border: bool,
    pub score: u32,
}

impl Risk {
    pub fn category(self) -> &'static str {
        match self.score {
            50.. => "HIGH",
            25.. => "MEDIUM",
            _ => "LOW",
        }
    }
}

impl Txn {
    pub fn col(&self, i: usize) -> Option<&str> {
        self.cols.get(i).and_then(|c| c.as_deref())
    }

    /// Flags and score from the windows and the enrichment (docs/transactions.md, step 3).
    pub fn score(&mut self) {
        let usd = i128::from(self.amount_usd);
        // amount > 5 x volume / count, without dividing.
        let unusual =
            usd * i128::from(self.customer_30d_count) > 5 * i128::from(self.customer_30d_volume);
        let high_frequency = self.customer_30d_count > 100;
        let country = self.customer[COUNTRY].as_deref();
        let cross_border = country.is_some_and(|c| c != "US")
            && usd > 10_000 * 10i128.pow(crate::values::USD_DIGITS);
        let high_profile = self.customer[RISK_PROFILE].as_deref() == Some("HIGH");
        let score = 30 * u32::from(unusual)
            + 20 * u32::from(high_frequency)
            + 25 * u32::from(cross_border)
            + 15 * u32::from(high_profile);
        self.risk = Risk {
            unusual_amount: unusual,
            high_frequency,
            cross_border,
            score,
        };
    }
}

fn opt(w: &mut FieldWriter, v: &Option<String>) {
    match v {
        Some(s) => w.str(s),
        None => w.empty(),
    }
}

/// A transaction as a `processed/` row.
impl Fields for Txn {
    fn write_fields(&self, w: &mut FieldWriter) {
        for c in self.cols.iter().chain(&self.customer).chain(&self.account) {
            opt(w, c);
        }
        w.display(self.ts.hour());
        w.display(is_weekend(self.ts));
        w.str(&format_usd(self.amount_usd.into()));
        w.str(&format_usd(self.customer_30d_volume.into()));
        w.display(self.customer_30d_count);
        w.str(&format_usd(self.account_7d_volume.into()));
        w.display(self.risk.unusual_amount);
        w.display(self.risk.high_frequency);
        w.display(self.risk.cross_border);
        w.display(self.risk.score);
        w.str(self.risk.category());
    }
}

/// One output row of nullable text columns (the reports, the quarantine).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Row(pub Vec<Option<String>>);
serde_value!(Row);

impl Fields for Row {
    fn write_fields(&self, w: &mut FieldWriter) {
        for c in &self.0 {
            opt(w, c);
        }
    }
}

/// What a join stage's reducer receives: the reference row of a key, then its facts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Joined {
    Reference(RefColumns),
    Fact(Box<Txn>),
}
serde_value!(Joined);

/// What a window stage's reducer receives, in time order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Event {
    /// A transaction's amount entering the window (sorted first at its time).
    Enter(i64),
    /// The transaction itself, to be given the window's totals.
    Txn(Box<Txn>),
    /// A transaction's amount leaving the window (sorted last at the window's end).
    Leave(i64),
}
serde_value!(Event);

/// Intermediate records are never written as text.
macro_rules! no_text {
    ($($t:ty),*) => {$(
        impl Fields for $t {
            fn write_fields(&self, _w: &mut FieldWriter) {}
        }
    )*};
}
no_text!(Joined, Event, Agg);

/// Which figure a report record adds to, and its group.
pub type ReportKey = (u8, Option<String>, Option<String>, Option<String>);
/// `basel_iii/`: (product_type, risk_category).
pub const BASEL: u8 = 0;
/// `risk_summary/`: (region, product_type, risk_category).
pub const RISK_SUMMARY: u8 = 1;
/// Valid transactions: volume, count, high-risk count.
pub const TOTALS: u8 = 2;
/// Rows read and rows invalid: (`total_records` | `invalid_records`).
pub const RECORDS: u8 = 3;
/// Failures of one rule: (rule).
pub const RULE: u8 = 4;
/// Distinct customers seen by one reducer.
pub const CUSTOMERS_SEEN: u8 = 5;

/// Sums toward a report figure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agg {
    /// A USD sum in units of 10^-5.
    pub usd: i128,
    pub count: u64,
    /// Sum of risk scores, or of high-risk transactions for TOTALS.
    pub other: u64,
}
serde_value!(Agg);

impl Agg {
    pub fn add(&mut self, o: &Agg) {
        self.usd += o.usd;
        self.count += o.count;
        self.other += o.other;
    }
}

/// A report key from its kind and up to three group columns.
pub fn report_key(kind: u8, cols: [Option<&str>; 3]) -> ReportKey {
    let [a, b, c] = cols.map(|c| c.map(str::to_string));
    (kind, a, b, c)
}
