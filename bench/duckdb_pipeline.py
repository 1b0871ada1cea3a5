"""The transaction pipeline of docs/transactions.md in DuckDB SQL: the baseline of
bench/transactions.sh. Usage: duckdb_pipeline.py DAY_DIR OUT_DIR"""
import json
import os
import sys

import duckdb

day, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
db = duckdb.connect()


def csv(name):
    # Columns named by the header, all text; no sniffing (the invalid rows defeat it).
    path = f"{day}/{name}.csv"
    with open(path) as f:
        header = f.readline().strip().split(",")
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in header) + "}"
    return (f"read_csv('{path}', columns={columns}, auto_detect=false, header=true, "
            "delim=',', quote='\"', escape='\"', strict_mode=false, ignore_errors=true)")


def copy(query, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    db.execute(f"COPY ({query}) TO '{path}' (HEADER)")


db.execute(f"""
CREATE TABLE checked AS
SELECT *, TRY_CAST(amount AS DECIMAL(18,2)) AS amt,
       TRY_STRPTIME(transaction_date, '%Y-%m-%d %H:%M:%S') AS ts
FROM {csv('transactions')}""")
db.execute("""
CREATE TABLE rules AS
SELECT *, list_filter([
  CASE WHEN (amount IS NOT NULL AND amt IS NULL) OR ts IS NULL THEN 'malformed' END,
  CASE WHEN amount IS NULL OR amt <= 0 THEN 'amount_positive' END,
  CASE WHEN transaction_type IS NULL OR transaction_type NOT IN ('DEBIT','CREDIT','TRANSFER')
       THEN 'valid_type' END,
  CASE WHEN currency IS NULL OR NOT regexp_full_match(currency, '[A-Z]{3}')
       THEN 'valid_currency' END,
  CASE WHEN account_id IS NULL THEN 'account_not_null' END,
  CASE WHEN customer_id IS NULL THEN 'customer_not_null' END], lambda x: x IS NOT NULL) AS failed
FROM checked""")
copy("SELECT * EXCLUDE (amt, ts, failed), array_to_string(failed, ';') AS failed_rules "
     "FROM rules WHERE len(failed) > 0", f"{out}/quarantine/part-0.csv")
db.execute(f"""
CREATE TABLE enriched AS
SELECT v.* EXCLUDE (failed), c.customer_tier, c.risk_profile, c.country, c.industry,
       a.account_type, a.balance, a.credit_limit, a.status,
       hour(ts) AS transaction_hour, dayofweek(ts) IN (0, 6) AS is_weekend,
       amt * CASE currency WHEN 'EUR' THEN 1.1 WHEN 'GBP' THEN 1.3 WHEN 'JPY' THEN 0.009
                           WHEN 'CAD' THEN 0.8 ELSE 1.0 END AS amount_usd
FROM rules v
LEFT JOIN {csv('customers')} c USING (customer_id)
LEFT JOIN {csv('accounts')} a USING (account_id)
WHERE len(v.failed) = 0""")
db.execute("""
CREATE TABLE windows AS
SELECT *,
  sum(amount_usd) OVER c30 AS customer_30d_volume,
  count(*) OVER c30 AS customer_30d_count,
  sum(amount_usd) OVER a7 AS account_7d_volume
FROM enriched
WINDOW c30 AS (PARTITION BY customer_id ORDER BY ts
               RANGE BETWEEN INTERVAL 30 DAYS PRECEDING AND CURRENT ROW),
       a7 AS (PARTITION BY account_id ORDER BY ts
              RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND CURRENT ROW)""")
db.execute("""
CREATE TABLE flagged AS
SELECT *,
  amount_usd > 5 * customer_30d_volume / customer_30d_count AS unusual_amount_flag,
  customer_30d_count > 100 AS high_frequency_flag,
  coalesce(country <> 'US' AND amount_usd > 10000, false) AS cross_border_flag
FROM windows""")
db.execute("""
CREATE TABLE scored AS
SELECT *, CASE WHEN risk_score >= 50 THEN 'HIGH' WHEN risk_score >= 25 THEN 'MEDIUM'
               ELSE 'LOW' END AS risk_category
FROM (SELECT *, 30 * unusual_amount_flag::INT + 20 * high_frequency_flag::INT
              + 25 * cross_border_flag::INT
              + CASE WHEN risk_profile = 'HIGH' THEN 15 ELSE 0 END AS risk_score
      FROM flagged)""")
db.execute(f"COPY (SELECT * EXCLUDE (amt, ts) FROM scored) TO '{out}/processed' "
           "(FORMAT CSV, HEADER, PARTITION_BY (region, product_type))")
copy("SELECT product_type, risk_category, sum(amount_usd) AS total_exposure, "
     "count(*) AS transaction_count, avg(amount_usd) AS avg_transaction_size "
     "FROM scored WHERE amount_usd > 50000 GROUP BY ALL", f"{out}/basel_iii/part-0.csv")
copy("SELECT transaction_id, customer_id, amount_usd, risk_score, risk_category, "
     "transaction_date FROM scored WHERE risk_score >= 50", f"{out}/aml_sar/part-0.csv")
copy("SELECT transaction_id, customer_id, account_id, amount_usd, transaction_type, "
     "counterparty_id FROM scored WHERE amount_usd > 10000", f"{out}/ctr/part-0.csv")
copy("SELECT region, product_type, risk_category, sum(amount_usd) AS total_amount, "
     "count(*) AS transaction_count, avg(risk_score) AS avg_risk_score "
     "FROM scored GROUP BY ALL", f"{out}/risk_summary/part-0.csv")
total, invalid = db.execute(
    "SELECT count(*), count(*) FILTER (len(failed) > 0) FROM rules").fetchone()
failures = dict(db.execute(
    "SELECT f, count(*) FROM (SELECT unnest(failed) AS f FROM rules) GROUP BY f").fetchall())
n, volume, customers, high = db.execute(
    "SELECT count(*), sum(amount_usd), count(DISTINCT customer_id), "
    "count(*) FILTER (risk_category = 'HIGH') FROM scored").fetchone()
summary = {
    "total_records": total, "valid_records": total - invalid, "invalid_records": invalid,
    "failures_by_rule": failures, "total_transactions": n,
    "total_volume_usd": float(volume or 0), "avg_transaction_size": float(volume or 0) / max(n, 1),
    "unique_customers": customers, "high_risk_transactions": high,
}
with open(f"{out}/summary.json", "w") as f:
    json.dump(summary, f, indent=2)
print(json.dumps(summary))
