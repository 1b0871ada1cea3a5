//! The last stage: sums the per-task figures of the earlier stages into `basel_iii/`,
//! `risk_summary/` and `summary.json` (one reducer: the groups are few).

use crate::ingest::RULES;
use crate::plan::Plan;
use crate::schema::{
    Agg, ReportKey, Row, BASEL, CUSTOMERS_SEEN, RECORDS, RISK_SUMMARY, RULE, TOTALS,
};
use crate::values::{format_usd, mean_usd};
use mapreduce::{Mapper, MrResult, Output, Record, Reducer, Values};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const BASEL_III: &str = "basel_iii";
pub const RISK_SUMMARY_OUT: &str = "risk_summary";
pub const BASEL_HEADER: [&str; 5] = [
    "product_type",
    "risk_category",
    "total_exposure",
    "transaction_count",
    "avg_transaction_size",
];
pub const RISK_SUMMARY_HEADER: [&str; 6] = [
    "region",
    "product_type",
    "risk_category",
    "total_amount",
    "transaction_count",
    "avg_risk_score",
];

/// Passes the figures on.
pub struct ReportsMapper;

impl Mapper for ReportsMapper {
    type Key = ReportKey;
    type Value = Agg;

    fn map(&mut self, rec: &Record<'_>, out: &mut Output<'_, ReportKey, Agg>) -> MrResult<()> {
        let (k, v) = rec.decode::<ReportKey, Agg>()?;
        out.emit(&k, &v)
    }
}

/// Adds up one figure: the combiner.
pub struct SumAgg;

impl Reducer for SumAgg {
    type Key = ReportKey;
    type Value = Agg;
    type OutKey = ReportKey;
    type OutValue = Agg;

    fn reduce(
        &mut self,
        key: ReportKey,
        values: &mut Values<'_, ReportKey, Agg>,
        out: &mut Output<'_, ReportKey, Agg>,
    ) -> MrResult<()> {
        out.emit(&key, &total(values))
    }
}

fn total(values: &mut Values<'_, ReportKey, Agg>) -> Agg {
    values.fold(Agg::default(), |mut a, v| {
        a.add(&v);
        a
    })
}

/// Writes the two grouped reports as their groups arrive (in key order), and the summary at
/// the end.
pub struct ReportsReducer {
    pub plan: Arc<Plan>,
    records: BTreeMap<String, u64>,
    rules: BTreeMap<String, u64>,
    totals: Agg,
    customers: u64,
}

impl ReportsReducer {
    pub fn new(plan: Arc<Plan>) -> Self {
        ReportsReducer {
            plan,
            records: BTreeMap::new(),
            rules: BTreeMap::new(),
            totals: Agg::default(),
            customers: 0,
        }
    }
}

impl Reducer for ReportsReducer {
    type Key = ReportKey;
    type Value = Agg;
    type OutKey = String;
    type OutValue = ();

    fn reduce(
        &mut self,
        key: ReportKey,
        values: &mut Values<'_, ReportKey, Agg>,
        out: &mut Output<'_, String, ()>,
    ) -> MrResult<()> {
        let a = total(values);
        let (kind, x, y, z) = key;
        match kind {
            BASEL => {
                let row = Row(vec![
                    x,
                    y,
                    Some(format_usd(a.usd)),
                    Some(a.count.to_string()),
                    Some(mean_usd(a.usd, a.count)),
                ]);
                out.emit_to(BASEL_III, &(), &row)?;
            }
            RISK_SUMMARY => {
                let avg_score = a.other as f64 / a.count.max(1) as f64;
                let row = Row(vec![
                    x,
                    y,
                    z,
                    Some(format_usd(a.usd)),
                    Some(a.count.to_string()),
                    Some(avg_score.to_string()),
                ]);
                out.emit_to(RISK_SUMMARY_OUT, &(), &row)?;
            }
            TOTALS => self.totals.add(&a),
            RECORDS => *self.records.entry(x.unwrap_or_default()).or_default() += a.count,
            RULE => *self.rules.entry(x.unwrap_or_default()).or_default() += a.count,
            CUSTOMERS_SEEN => self.customers += a.count,
            _ => {}
        }
        Ok(())
    }

    fn cleanup(&mut self, out: &mut Output<'_, String, ()>) -> MrResult<()> {
        let total = self.records.get("total_records").copied().unwrap_or(0);
        let invalid = self.records.get("invalid_records").copied().unwrap_or(0);
        let rules: Vec<String> = RULES
            .iter()
            .map(|r| format!("    {r:?}: {}", self.rules.get(*r).copied().unwrap_or(0)))
            .collect();
        let t = &self.totals;
        let avg = match mean_usd(t.usd, t.count) {
            s if s.is_empty() => "null".to_string(),
            s => s,
        };
        let join = |map: bool| if map { "map" } else { "reduce" };
        let json = format!(
            "{{\n  \"total_records\": {total},\n  \"valid_records\": {},\n  \"invalid_records\": {invalid},\n  \
             \"failures_by_rule\": {{\n{}\n  }},\n  \"total_transactions\": {},\n  \"total_volume_usd\": {},\n  \
             \"avg_transaction_size\": {avg},\n  \"unique_customers\": {},\n  \"high_risk_transactions\": {},\n  \
             \"plan\": {{ \"customers_join\": \"{}\", \"accounts_join\": \"{}\", \
             \"salted_customer_keys\": {}, \"salted_account_keys\": {} }}\n}}\n",
            total - invalid,
            rules.join(",\n"),
            t.count,
            format_usd(t.usd),
            self.customers,
            t.other,
            join(self.plan.customers_map),
            join(self.plan.accounts_map),
            self.plan.hot_customers.len(),
            self.plan.hot_accounts.len(),
        );
        out.emit(&json, &())
    }
}
