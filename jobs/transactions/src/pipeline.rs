//! The job: its stages in order, from the plan.
//!
//! 1. `join_customers`, `join_accounts` (only for tables joined reduce-side): the salted
//!    reduce-side joins.
//! 2. `customer_window`: the 30-day customer window; counts distinct customers.
//! 3. `account_window`: the 7-day account window, the score, `processed/`, `aml_sar/`, `ctr/`.
//! 4. `reports`: `basel_iii/`, `risk_summary/`, `summary.json`.
//!
//! Whichever stage comes first reads the transactions CSV: it validates, quarantines, and
//! joins map-side the tables the plan loads whole. Stages pass transactions on as binary
//! records in intermediate directories under the output (`_stage-NAME`), removed at the end.

use crate::ingest::{quarantine_header, Ingest, QUARANTINE, VALIDATION_COUNTS};
use crate::join::{JoinMapper, JoinReducer};
use crate::plan::{Args, Plan};
use crate::reports::{
    ReportsMapper, ReportsReducer, SumAgg, BASEL_HEADER, BASEL_III, RISK_SUMMARY_HEADER,
    RISK_SUMMARY_OUT,
};
use crate::schema::{processed_header, Table, ACCOUNTS, CUSTOMERS};
use crate::window::{
    AccountWindowReducer, CustomerWindowReducer, Window, WindowMapper, AML_SAR, AML_SAR_HEADER,
    CTR, CTR_HEADER, CUSTOMER_COUNTS, PROCESSED,
};
use mapreduce::job::StageBuilder;
use mapreduce::{Dest, Input, Job, JobEnv, Mapper, MrResult, Stage};
use std::sync::Arc;

/// Builds the pipeline for `transactions run ...`.
pub fn job(env: &JobEnv) -> MrResult<Job> {
    let args = Args::parse(env.args())?;
    let plan = if env.describing() {
        Plan::decide(env, &args)?
    } else {
        Plan::from_conf(env)?
    };
    let plan = Arc::new(plan);
    let out = args.output.as_str();
    let work = |stage: &str| format!("{out}/_stage-{stage}");
    let r = args.reducers;
    let mut job =
        Job::new("transactions").settings(|s| s.side_input_memory_mb = args.side_input_mb);

    // What the next stage reads: the CSV first, then the previous stage's records.
    let mut source = Input::csv(&args.transactions);
    let mut first = true;
    let joins: [(Table, bool, &str); 2] = [
        (CUSTOMERS, plan.customers_map, &args.customers),
        (ACCOUNTS, plan.accounts_map, &args.accounts),
    ];
    for (table, map_side, path) in joins {
        if map_side {
            continue;
        }
        let name = format!("join_{}", table.name);
        let (p, f) = (plan.clone(), first);
        let mut s = Stage::map(&name, move || JoinMapper {
            table,
            plan: p.clone(),
            ingest: Ingest::new(p.clone(), f),
            skipped: 0,
        })
        .input(source)
        .input(Input::csv(path))
        .group_by(2)
        .reducer(move || JoinReducer { table }, r)
        .output(Dest::binary(work(&name)).intermediate());
        if first {
            s = first_stage(s, &plan, &args);
        }
        job = job.stage(s);
        source = Input::binary(work(&name));
        first = false;
    }

    let (p, f) = (plan.clone(), first);
    let mut s = Stage::map("customer_window", move || WindowMapper {
        window: Window::Customer30d,
        ingest: Ingest::new(p.clone(), f),
    })
    .input(source)
    .group_by(1)
    .reducer(CustomerWindowReducer::default, r)
    .output(Dest::binary(work("customer_window")).intermediate())
    .named_output(
        CUSTOMER_COUNTS,
        Dest::binary(work("customers")).intermediate(),
    );
    if first {
        s = first_stage(s, &plan, &args);
    }
    job = job.stage(s);

    let p = plan.clone();
    job = job.stage(
        Stage::map("account_window", move || WindowMapper {
            window: Window::Account7d,
            ingest: Ingest::new(p.clone(), false),
        })
        .input(Input::binary(work("customer_window")))
        .group_by(1)
        .reducer(AccountWindowReducer::default, r)
        .output(Dest::binary(work("partials")).intermediate())
        .named_output(
            PROCESSED,
            Dest::csv(format!("{out}/processed"), &processed_header()),
        )
        .named_output(
            AML_SAR,
            Dest::csv(format!("{out}/aml_sar"), &AML_SAR_HEADER),
        )
        .named_output(CTR, Dest::csv(format!("{out}/ctr"), &CTR_HEADER)),
    );

    let p = plan.clone();
    job = job.stage(
        Stage::map("reports", || ReportsMapper)
            .input(Input::binary(work("partials")))
            .input(Input::binary(work("customers")))
            .input(Input::binary(work("validation")))
            .combiner(|| SumAgg)
            .reducer(move || ReportsReducer::new(p.clone()), 1)
            .output(Dest::file(format!("{out}/summary.json")))
            .named_output(
                BASEL_III,
                Dest::csv(format!("{out}/basel_iii"), &BASEL_HEADER),
            )
            .named_output(
                RISK_SUMMARY_OUT,
                Dest::csv(format!("{out}/risk_summary"), &RISK_SUMMARY_HEADER),
            ),
    );
    if env.describing() {
        job = plan.record(job)?;
    }
    Ok(job)
}

/// The first stage's extra outputs (the quarantine, the validation figures) and the side
/// inputs of the map-side joins.
fn first_stage<M: Mapper>(mut s: StageBuilder<M>, plan: &Plan, args: &Args) -> StageBuilder<M> {
    let out = &args.output;
    s = s
        .named_output(
            QUARANTINE,
            Dest::csv(format!("{out}/quarantine"), &quarantine_header()),
        )
        .named_output(
            VALIDATION_COUNTS,
            Dest::binary(format!("{out}/_stage-validation")).intermediate(),
        );
    if plan.customers_map {
        s = s.side_input(CUSTOMERS.name, Input::csv(&args.customers));
    }
    if plan.accounts_map {
        s = s.side_input(ACCOUNTS.name, Input::csv(&args.accounts));
    }
    s
}
