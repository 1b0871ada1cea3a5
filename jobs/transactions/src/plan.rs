//! The plan of a run: which reference tables are joined map-side (loaded whole by every task)
//! and which reduce-side, and which hot keys a reduce-side join salts. Decided once, while the
//! job is described, from the inputs' sizes and a sample of the transactions; recorded in the
//! job's conf so every task follows the same plan.

use crate::schema::{Table, ACCOUNTS, CUSTOMERS, TXN_COLUMNS};
use mapreduce::{fail, Input, Job, JobEnv, MrResult};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The conf key the plan is recorded under.
const PLAN_CONF: &str = "transactions.plan";
/// Transactions sampled to find hot keys.
const SAMPLE: usize = 20_000;
/// A table is joined map-side when its file is at most this fraction of the side-input memory
/// (a table in memory takes several times its CSV size).
const MAP_JOIN_FRACTION: u64 = 4;

/// How the user asked the reference tables to be joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinChoice {
    Auto,
    Map,
    Reduce,
}

/// The arguments of `transactions run`.
#[derive(Clone, Debug)]
pub struct Args {
    pub transactions: String,
    pub customers: String,
    pub accounts: String,
    pub output: String,
    pub join: JoinChoice,
    pub reducers: u32,
    pub side_input_mb: u64,
}

pub const USAGE: &str =
    "usage: transactions run --transactions PATH --customers PATH --accounts PATH \
--output PATH [--join auto|map|reduce] [--reducers N] [--side-input-mb N]\n       \
transactions gen --rows N --customers C --accounts A --seed S --out DIR [--days D] [--hot-share F]";

impl Args {
    pub fn parse(args: &[String]) -> MrResult<Args> {
        let mut it = args.iter();
        if it.next().map(String::as_str) != Some("run") {
            return Err(fail(USAGE));
        }
        let mut a = Args {
            transactions: String::new(),
            customers: String::new(),
            accounts: String::new(),
            output: String::new(),
            join: JoinChoice::Auto,
            reducers: 4,
            side_input_mb: mapreduce::JobSettings::default().side_input_memory_mb,
        };
        while let Some(flag) = it.next() {
            let value = it
                .next()
                .ok_or_else(|| fail(format!("{flag} needs a value\n{USAGE}")))?;
            let number = || {
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| fail(format!("{flag} {value:?}: not a positive number")))
            };
            match flag.as_str() {
                "--transactions" => a.transactions = value.clone(),
                "--customers" => a.customers = value.clone(),
                "--accounts" => a.accounts = value.clone(),
                "--output" => a.output = value.trim_end_matches('/').to_string(),
                "--reducers" => a.reducers = number()? as u32,
                "--side-input-mb" => a.side_input_mb = number()?,
                "--join" => {
                    a.join = match value.as_str() {
                        "auto" => JoinChoice::Auto,
                        "map" => JoinChoice::Map,
                        "reduce" => JoinChoice::Reduce,
                        _ => {
                            return Err(fail(format!("--join {value:?}: use auto, map or reduce")))
                        }
                    }
                }
                _ => return Err(fail(format!("unknown flag {flag:?}\n{USAGE}"))),
            }
        }
        for (name, v) in [
            ("--transactions", &a.transactions),
            ("--customers", &a.customers),
            ("--accounts", &a.accounts),
            ("--output", &a.output),
        ] {
            if v.is_empty() {
                return Err(fail(format!("{name} is required\n{USAGE}")));
            }
        }
        Ok(a)
    }
}

/// What every task of a run follows.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Plan {
    pub customers_map: bool,
    pub accounts_map: bool,
    /// Hot keys of the reduce-side joins, with the number of salts each is spread over.
    pub hot_customers: HashMap<String, u32>,
    pub hot_accounts: HashMap<String, u32>,
}

impl Plan {
    /// Decides the plan from the inputs (at describe time), checking their headers on the way.
    pub fn decide(env: &JobEnv, args: &Args) -> MrResult<Plan> {
        let budget = args.side_input_mb << 20;
        let map_join = |table: Table, path: &str| -> MrResult<bool> {
            let size = env.input_size(path)?;
            check_header(
                env,
                path,
                table.name,
                &[&[table.key][..], &table.columns[..]].concat(),
            )?;
            Ok(match args.join {
                JoinChoice::Map if size > budget => {
                    return Err(fail(format!(
                        "--join map: the {} table ({path}, {size} bytes) is larger than the \
                         side-input memory ({} MiB; raise it with --side-input-mb)",
                        table.name, args.side_input_mb
                    )))
                }
                JoinChoice::Map => true,
                JoinChoice::Reduce => false,
                JoinChoice::Auto => size.saturating_mul(MAP_JOIN_FRACTION) <= budget,
            })
        };
        let mut plan = Plan {
            customers_map: map_join(CUSTOMERS, &args.customers)?,
            accounts_map: map_join(ACCOUNTS, &args.accounts)?,
            ..Plan::default()
        };
        check_header(env, &args.transactions, "transactions", &TXN_COLUMNS)?;
        if !plan.customers_map || !plan.accounts_map {
            let (customers, accounts) = hot_keys(env, &args.transactions, args.reducers)?;
            if !plan.customers_map {
                plan.hot_customers = customers;
            }
            if !plan.accounts_map {
                plan.hot_accounts = accounts;
            }
        }
        Ok(plan)
    }

    /// The plan the description recorded (in a task).
    pub fn from_conf(env: &JobEnv) -> MrResult<Plan> {
        let json = env
            .conf(PLAN_CONF)
            .ok_or_else(|| fail("the job spec has no transactions plan"))?;
        serde_json::from_str(json).map_err(|e| fail(format!("bad transactions plan: {e}")))
    }

    /// Records the plan in the job's conf.
    pub fn record(&self, job: Job) -> MrResult<Job> {
        let json = serde_json::to_string(self).map_err(|e| fail(e.to_string()))?;
        Ok(job.conf(PLAN_CONF, json))
    }

    /// How many salts a key of `table` is spread over in its reduce-side join.
    pub fn salts(&self, table: Table, key: &str) -> u32 {
        let hot = if table == CUSTOMERS {
            &self.hot_customers
        } else {
            &self.hot_accounts
        };
        hot.get(key).copied().unwrap_or(1)
    }
}

/// Fails at submit time when an input lacks a column the pipeline reads.
fn check_header(env: &JobEnv, path: &str, what: &str, needed: &[&str]) -> MrResult<()> {
    let mut header: Option<Vec<String>> = None;
    env.sample(&Input::csv(path), 1, |rec| {
        if header.is_none() {
            header = rec.columns().map(|c| c.names.clone());
        }
        Ok(())
    })?;
    if let Some(names) = header {
        for n in needed {
            if !names.iter().any(|h| h.trim() == *n) {
                return Err(fail(format!(
                    "the {what} input {path} has no column {n:?} (its header: {})",
                    names.join(",")
                )));
            }
        }
    }
    Ok(())
}

/// Customer and account ids that take more than a quarter of one reducer's fair share of a
/// sample of the transactions, with the salts that cut each into pieces of at most an eighth
/// of a share.
fn hot_keys(
    env: &JobEnv,
    transactions: &str,
    reducers: u32,
) -> MrResult<(HashMap<String, u32>, HashMap<String, u32>)> {
    let mut customers: HashMap<String, u64> = HashMap::new();
    let mut accounts: HashMap<String, u64> = HashMap::new();
    let mut n = 0u64;
    env.sample(&Input::csv(transactions), SAMPLE, |rec| {
        if let (Ok(c), Ok(a)) = (rec.field("customer_id"), rec.field("account_id")) {
            n += 1;
            *customers.entry(c.to_string()).or_default() += 1;
            *accounts.entry(a.to_string()).or_default() += 1;
        }
        Ok(())
    })?;
    let r = f64::from(reducers.max(1));
    let hot = |counts: HashMap<String, u64>| -> HashMap<String, u32> {
        counts
            .into_iter()
            .filter(|(k, c)| !k.is_empty() && *c >= 10)
            .filter_map(|(k, c)| {
                let share = c as f64 / n as f64;
                (share > 1.0 / (4.0 * r)).then(|| (k, (share * 8.0 * r).ceil() as u32))
            })
            .collect()
    };
    Ok((hot(customers), hot(accounts)))
}
