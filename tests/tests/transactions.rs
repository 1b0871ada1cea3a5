//! The transaction pipeline on a real cluster: its reports against a separate implementation
//! of docs/transactions.md, map-side and reduce-side joins giving byte-identical outputs, a worker
//! killed mid-pipeline, salted hot keys, and malformed inputs.

#![allow(clippy::unwrap_used)]

use client::{CreateOptions, DfsClient};
use std::collections::BTreeMap;
use std::time::Duration;
use tests::txn_reference::{compute, split_csv, Expected};
use tests::{job_binary, mrctl, start, submit_wait, wait, Submitted, TestCluster};

/// Generates a day with `transactions gen` and puts it under `/day` in small blocks (several
/// map tasks); returns the three CSV texts.
fn load_day(tc: &TestCluster, gen: &[&str]) -> [String; 3] {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(job_binary("transactions"))
        .arg("gen")
        .args(gen)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ["transactions", "customers", "accounts"].map(|name| {
        let text = std::fs::read_to_string(dir.path().join(format!("{name}.csv"))).unwrap();
        let opts = CreateOptions {
            block_size: 256 << 10,
            ..Default::default()
        };
        tc.dfs
            .write_file(&format!("/day/{name}.csv"), text.as_bytes(), opts)
            .unwrap();
        text
    })
}

fn run_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "run",
        "--transactions",
        "/day/transactions.csv",
        "--customers",
        "/day/customers.csv",
        "--accounts",
        "/day/accounts.csv",
        "--output",
        out,
    ];
    a.extend_from_slice(extra);
    a
}

fn run(tc: &TestCluster, out: &str, extra: &[&str]) -> Submitted {
    let r = submit_wait(tc, "transactions", &run_args(out, extra));
    assert!(r.ok, "the pipeline failed: {}\n{}", r.stderr, r.stdout);
    r
}

/// Every file under a directory (relative path -> bytes), markers included.
fn files(dfs: &DfsClient, dir: &str) -> BTreeMap<String, Vec<u8>> {
    tests::all_paths(dfs, dir)
        .into_iter()
        .filter_map(|p| {
            let data = dfs.read_file(&p).ok()?;
            Some((p[dir.len()..].to_string(), data))
        })
        .filter(|(p, _)| !dfs.stat(&format!("{dir}{p}")).unwrap().is_dir)
        .collect()
}

/// The rows of every part file under a directory, by column name, with each file's path.
fn csv_rows(dfs: &DfsClient, dir: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut rows = Vec::new();
    for f in dfs.list_files(dir).unwrap() {
        let text = String::from_utf8(dfs.read_file(&f.path).unwrap()).unwrap();
        let mut lines = text.lines();
        let header = split_csv(lines.next().unwrap()).unwrap();
        for l in lines {
            let fields = split_csv(l).unwrap_or_else(|| panic!("bad CSV in {}: {l}", f.path));
            assert_eq!(fields.len(), header.len(), "{}: {l}", f.path);
            rows.push((f.path.clone(), header.iter().cloned().zip(fields).collect()));
        }
    }
    rows
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

const NUMERIC: [&str; 3] = ["amount_usd", "customer_30d_volume", "account_7d_volume"];

/// Checks every output of the run in `out` against the reference's figures.
fn check(dfs: &DfsClient, out: &str, e: &Expected) {
    // processed/: every valid transaction once, in its partition, every column right.
    let rows = csv_rows(dfs, &format!("{out}/processed"));
    assert_eq!(rows.len(), e.processed.len(), "processed rows");
    for (path, row) in &rows {
        let id = &row["transaction_id"];
        let (dir, want) = e
            .processed
            .get(id)
            .unwrap_or_else(|| panic!("unexpected {id}"));
        assert!(
            path.contains(&format!("/processed/{dir}/part-r-")),
            "{id} in {path}"
        );
        assert_eq!(row.len(), want.len(), "columns of {id}");
        for (k, v) in want {
            let got = &row[k];
            if NUMERIC.contains(&k.as_str()) {
                assert!(close(num(got), num(v)), "{id} {k}: {got} vs {v}");
            } else {
                assert_eq!(got, v, "{id} {k}");
            }
        }
    }
    // quarantine/: every invalid row, with the rules it failed.
    let mut got: Vec<(String, String)> = csv_rows(dfs, &format!("{out}/quarantine"))
        .into_iter()
        .map(|(_, r)| (r["transaction_id"].clone(), r["failed_rules"].clone()))
        .collect();
    let mut want = e.quarantine.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "quarantine");
    // The grouped reports.
    let grouped = |name: &str,
                   keys: &[&str],
                   total: &str,
                   avg: &str,
                   want: &BTreeMap<Vec<String>, (f64, u64, f64)>| {
        let rows = csv_rows(dfs, &format!("{out}/{name}"));
        assert_eq!(rows.len(), want.len(), "{name} rows");
        for (_, r) in rows {
            let k: Vec<String> = keys.iter().map(|c| r[*c].clone()).collect();
            let (t, n, a) = want
                .get(&k)
                .unwrap_or_else(|| panic!("{name}: unexpected {k:?}"));
            assert!(close(num(&r[total]), *t), "{name} {k:?} total");
            assert_eq!(
                num(&r["transaction_count"]) as u64,
                *n,
                "{name} {k:?} count"
            );
            assert!(close(num(&r[avg]), *a), "{name} {k:?} average");
        }
    };
    grouped(
        "basel_iii",
        &["product_type", "risk_category"],
        "total_exposure",
        "avg_transaction_size",
        &e.basel,
    );
    grouped(
        "risk_summary",
        &["region", "product_type", "risk_category"],
        "total_amount",
        "avg_risk_score",
        &e.risk_summary,
    );
    // The two lists.
    for (name, want) in [("aml_sar", &e.aml_sar), ("ctr", &e.ctr)] {
        let rows = csv_rows(dfs, &format!("{out}/{name}"));
        assert_eq!(rows.len(), want.len(), "{name} rows");
        for (_, r) in rows {
            let w = &want[&r["transaction_id"]];
            let header: Vec<&str> = if name == "aml_sar" {
                vec![
                    "transaction_id",
                    "customer_id",
                    "amount_usd",
                    "risk_score",
                    "risk_category",
                    "transaction_date",
                ]
            } else {
                vec![
                    "transaction_id",
                    "customer_id",
                    "account_id",
                    "amount_usd",
                    "transaction_type",
                    "counterparty_id",
                ]
            };
            for (col, v) in header.iter().zip(w) {
                if *col == "amount_usd" {
                    assert!(close(num(&r[*col]), num(v)), "{name} {col}");
                } else {
                    assert_eq!(&r[*col], v, "{name} {col}");
                }
            }
        }
    }
    // summary.json.
    let s: serde_json::Value =
        serde_json::from_slice(&dfs.read_file(&format!("{out}/summary.json")).unwrap()).unwrap();
    for (k, v) in &e.summary {
        let got = s[k]
            .as_f64()
            .unwrap_or_else(|| panic!("summary has no {k}: {s}"));
        assert!(close(got, *v), "summary {k}: {got} vs {v}");
    }
    for (rule, n) in &e.failures {
        assert_eq!(
            s["failures_by_rule"][rule].as_u64(),
            Some(*n),
            "failures of {rule}"
        );
    }
}

/// The outputs of a run, with summary.json's plan line (which join ran, what was salted) cut.
fn outputs(dfs: &DfsClient, out: &str) -> BTreeMap<String, Vec<u8>> {
    let mut all = files(dfs, out);
    let summary = all.get_mut("/summary.json").expect("summary.json");
    let text = String::from_utf8(summary.clone()).unwrap();
    *summary = text
        .lines()
        .filter(|l| !l.contains("\"plan\""))
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes();
    all
}

#[test]
fn the_pipeline_matches_a_separate_implementation_whichever_join_and_survives_a_worker_kill() {
    let tc = start(4, 2, |_| {});
    let [txns, customers, accounts] = load_day(
        &tc,
        &[
            "--rows",
            "12000",
            "--customers",
            "300",
            "--accounts",
            "600",
            "--seed",
            "5",
        ],
    );
    let expected = compute(&txns, &customers, &accounts);
    assert!(
        expected.quarantine.len() > 100 && expected.aml_sar.len() > 10 && expected.basel.len() > 2
    );

    let r = run(&tc, "/out/map", &["--join", "map"]);
    check(&tc.dfs, "/out/map", &expected);
    assert_eq!(
        r.counter("invalid_records"),
        expected.quarantine.len() as u64
    );
    let paths = tests::all_paths(&tc.dfs, "/out/map");
    assert!(
        paths
            .iter()
            .all(|p| !p.contains("_stage-") && !p.contains("_temporary")),
        "{paths:?}"
    );

    run(&tc, "/out/reduce", &["--join", "reduce"]);
    let summary = String::from_utf8(tc.dfs.read_file("/out/reduce/summary.json").unwrap()).unwrap();
    assert!(
        summary.contains("\"customers_join\": \"reduce\""),
        "{summary}"
    );
    assert_eq!(
        outputs(&tc.dfs, "/out/map"),
        outputs(&tc.dfs, "/out/reduce"),
        "map-side and reduce-side joins must write the same bytes"
    );

    // A worker killed with SIGKILL in the middle: the same outputs.
    let o = mrctl(
        &tc,
        &[
            &["submit", &job_binary("transactions"), "--"][..],
            &run_args("/out/killed", &["--join", "reduce"]),
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = String::from_utf8(o.stdout).unwrap().trim().to_string();
    let jobs = tc.cluster.job_client().unwrap();
    wait(
        Duration::from_secs(60),
        "the first stage's maps to finish",
        || {
            let r = jobs.job(&id).ok()?;
            (r.stages[0].maps_done >= 1).then_some(())
        },
    );
    assert!(
        !jobs.job(&id).unwrap().state.is_over(),
        "the pipeline ended before the kill"
    );
    tc.cluster.kill("worker-2").unwrap();
    let r = jobs.wait(&id, |_| {}).unwrap();
    assert_eq!(r.state, common::jobs::JobState::Succeeded, "{:?}", r.error);
    assert_eq!(
        outputs(&tc.dfs, "/out/map"),
        outputs(&tc.dfs, "/out/killed")
    );
}

#[test]
fn a_hot_customer_is_salted_so_no_join_reducer_takes_more_than_twice_the_median() {
    let tc = start(3, 2, |_| {});
    load_day(
        &tc,
        &[
            "--rows",
            "40000",
            "--customers",
            "2000",
            "--accounts",
            "4000",
            "--seed",
            "9",
            "--hot-share",
            "0.2",
        ],
    );
    let r = run(&tc, "/out", &["--join", "reduce", "--reducers", "4"]);
    let jobs = tc.cluster.job_client().unwrap();
    let report = jobs.job(&r.job_id()).unwrap();
    for stage in ["join_customers", "join_accounts"] {
        let s = report.stages.iter().find(|s| s.name == stage).unwrap();
        let mut inputs = s.reduce_input_records.clone();
        inputs.sort();
        let median = (inputs[1] + inputs[2]) as f64 / 2.0;
        let max = inputs[3] as f64;
        assert!(max <= 2.0 * median, "{stage}: reduce inputs {inputs:?}");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&tc.dfs.read_file("/out/summary.json").unwrap()).unwrap();
    assert!(
        summary["plan"]["salted_customer_keys"].as_u64().unwrap() >= 1,
        "{summary}"
    );
}

#[test]
fn malformed_inputs_are_quarantined_or_refused_with_a_clear_error() {
    let tc = start(2, 1, |_| {});
    let header = "transaction_id,account_id,customer_id,transaction_type,amount,currency,transaction_date,settlement_date,counterparty_id,product_type,channel,region,risk_rating";
    let rest = "2026-11-20 10:00:00,,CP1,RETAIL,ONLINE,EU,LOW";
    let mut text = format!("{header}\nT1,A1,C1,DEBIT,10.00,USD,{rest}\n").into_bytes();
    text.extend(format!("T2,A1,C1,DEBIT,\"10.00,USD,{rest}\n").bytes()); // unclosed quote
    text.extend(format!("T3,A1,C1,CREDIT,5.00,EUR,{rest}\n").bytes());
    text.extend(b"T4,A1,C1,DEBIT,5.00\n"); // missing columns
    text.extend(b"T5,A1,C1,DEBIT,7.00,GBP,2026-11-20 10:00:00,,CP1,RETAIL,ONLINE,\xff\xfe,LOW\n"); // not UTF-8
    text.extend(format!("T6,A1,C1,DE\"BIT,5.00,USD,{rest}\n").bytes()); // a quote inside a field
    text.extend(format!("\nT7,A1,,TRANSFER,-3,usd,{rest}\n").bytes());
    tc.dfs
        .write_file("/day/transactions.csv", &text, CreateOptions::default())
        .unwrap();
    tc.dfs
        .write_file("/day/customers.csv", b"customer_id,customer_tier,risk_profile,country,industry\nC1,GOLD,HIGH,DE,\"A, B\"\n\"broken\n", CreateOptions::default())
        .unwrap();
    tc.dfs
        .write_file(
            "/day/accounts.csv",
            b"account_id,account_type,balance,credit_limit,status\nA1,CHECKING,1.00,,ACTIVE\n",
            CreateOptions::default(),
        )
        .unwrap();
    let r = run(&tc, "/out", &[]);
    let summary: serde_json::Value =
        serde_json::from_slice(&tc.dfs.read_file("/out/summary.json").unwrap()).unwrap();
    assert_eq!(summary["total_records"], 7, "{summary}");
    assert_eq!(summary["valid_records"], 3, "{summary}");
    assert_eq!(summary["failures_by_rule"]["malformed"], 3, "{summary}");
    assert_eq!(r.counter("customers_rows_skipped"), 1, "{}", r.stdout);
    let quarantined: BTreeMap<String, String> = csv_rows(&tc.dfs, "/out/quarantine")
        .into_iter()
        .map(|(_, r)| (r["transaction_id"].clone(), r["failed_rules"].clone()))
        .collect();
    assert_eq!(quarantined["T2"], "malformed");
    assert_eq!(quarantined["T4"], "malformed");
    assert_eq!(quarantined["T6"], "malformed");
    assert_eq!(
        quarantined["T7"],
        "amount_positive;valid_currency;customer_not_null"
    );
    let processed = csv_rows(&tc.dfs, "/out/processed");
    let ids: Vec<&str> = processed
        .iter()
        .map(|(_, r)| r["transaction_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(processed
        .iter()
        .all(|(_, r)| r["risk_profile"] == "HIGH" && r["industry"] == "A, B"));

    // Inputs the pipeline cannot read at all are refused at submit, naming what is wrong.
    tc.dfs
        .write_file(
            "/bad/no_amount.csv",
            format!(
                "{}\nT1,A1,C1,DEBIT,USD,{rest}\n",
                header.replace(",amount", "")
            )
            .as_bytes(),
            CreateOptions::default(),
        )
        .unwrap();
    let binary: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
    tc.dfs
        .write_file("/bad/binary.csv", &binary, CreateOptions::default())
        .unwrap();
    for (flag, path, needle) in [
        (
            "--transactions",
            "/bad/no_amount.csv",
            "no column \"amount\"",
        ),
        ("--transactions", "/bad/binary.csv", "has no column"),
        ("--customers", "/bad/binary.csv", "has no column"),
        ("--accounts", "/bad/missing.csv", "/bad/missing.csv"),
    ] {
        let mut args = run_args("/out2", &[]);
        let i = args.iter().position(|a| *a == flag).unwrap();
        args[i + 1] = path;
        let r = submit_wait(&tc, "transactions", &args);
        assert!(!r.ok, "{flag} {path} should be refused");
        assert!(r.stderr.contains(needle), "{flag} {path}: {}", r.stderr);
    }
}
