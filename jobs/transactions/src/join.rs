//! The reduce-side join of a reference table too large to load in every task: transactions
//! and reference rows meet under the reference key, the reference row first in its group (its
//! tag sorts first), the facts streamed after it. A hot key is salted: its facts are spread
//! over several groups by a hash of the transaction id, and its reference row is sent to each.

use crate::ingest::{reference_row, Ingest, VALIDATION};
use crate::plan::Plan;
use crate::schema::{
    Joined, RefColumns, Table, Txn, ACCOUNTS, ACCOUNT_ID, CUSTOMERS, CUSTOMER_ID, TXN_ID,
};
use mapreduce::{Mapper, MrResult, Output, Record, Reducer, TaskContext, Values};
use std::sync::Arc;

/// (reference key, salt, tag: 0 the reference row, 1 a fact, transaction id).
pub type JoinKey = (String, u32, u8, String);

/// Which salt a transaction of a hot key goes to: a hash of its id (the same in every attempt).
fn salt_of(txn_id: &str, salts: u32) -> u32 {
    if salts <= 1 {
        return 0;
    }
    // FNV-1a: stable across runs and platforms.
    let h = txn_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h % u64::from(salts)) as u32
}

/// Emits transactions (input 0) and reference rows (input 1) under the reference key.
pub struct JoinMapper {
    pub table: Table,
    pub plan: Arc<Plan>,
    pub ingest: Ingest,
    pub skipped: u64,
}

impl Mapper for JoinMapper {
    type Key = JoinKey;
    type Value = Joined;

    fn setup(&mut self, ctx: &mut TaskContext) -> MrResult<()> {
        self.ingest.setup(ctx)
    }

    fn map(&mut self, rec: &Record<'_>, out: &mut Output<'_, JoinKey, Joined>) -> MrResult<()> {
        if rec.input == 1 {
            return match reference_row(rec, self.table)? {
                Some((key, cols)) => {
                    for salt in 0..self.plan.salts(self.table, &key) {
                        out.emit(
                            &(key.clone(), salt, 0, String::new()),
                            &Joined::Reference(cols.clone()),
                        )?;
                    }
                    Ok(())
                }
                None => {
                    self.skipped += 1;
                    Ok(())
                }
            };
        }
        let Some(txn) = self.ingest.txn(rec, out)? else {
            return Ok(());
        };
        let column = if self.table == CUSTOMERS {
            CUSTOMER_ID
        } else {
            ACCOUNT_ID
        };
        let key = txn.col(column).unwrap_or_default().to_string();
        let id = txn.col(TXN_ID).unwrap_or_default().to_string();
        let salt = salt_of(&id, self.plan.salts(self.table, &key));
        out.emit(&(key, salt, 1, id), &Joined::Fact(Box::new(txn)))
    }

    fn cleanup(&mut self, out: &mut Output<'_, JoinKey, Joined>) -> MrResult<()> {
        out.count(
            VALIDATION,
            &format!("{}_rows_skipped", self.table.name),
            self.skipped,
        );
        self.ingest.cleanup(out)
    }
}

/// Gives each fact of a group the group's reference columns (nulls when it has none).
pub struct JoinReducer {
    pub table: Table,
}

impl Reducer for JoinReducer {
    type Key = JoinKey;
    type Value = Joined;
    type OutKey = ();
    type OutValue = Txn;

    fn reduce(
        &mut self,
        _key: JoinKey,
        values: &mut Values<'_, JoinKey, Joined>,
        out: &mut Output<'_, (), Txn>,
    ) -> MrResult<()> {
        let mut reference: Option<RefColumns> = None;
        for v in values {
            match v {
                // Keys are unique; a duplicate row would only repeat the first.
                Joined::Reference(cols) => {
                    reference.get_or_insert(cols);
                }
                Joined::Fact(mut txn) => {
                    let cols = reference.clone().unwrap_or_default();
                    if self.table == ACCOUNTS {
                        txn.account = cols;
                    } else {
                        txn.customer = cols;
                    }
                    out.emit(&(), &txn)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salts_spread_and_stay_put() {
        let mut seen = [0u32; 8];
        for i in 0..8000 {
            let id = format!("T-{i}");
            let s = salt_of(&id, 8);
            assert_eq!(s, salt_of(&id, 8));
            seen[s as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
        assert_eq!(salt_of("x", 1), 0);
    }
}
