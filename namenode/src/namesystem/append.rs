//! Append: reopening a closed file for writing at its end, as HDFS does. The caller needs
//! write permission on the file and takes its lease. A partial last block goes back under
//! construction at its current stamp, its replicas becoming the expected pipeline; the writer
//! then asks for a new stamp (`update_block_for_pipeline`), reopens the replicas with the
//! datanodes' append stage and commits the stamp (`update_pipeline`), exactly as a pipeline
//! recovery does. A full last block stays closed: the next write adds a block after it.

use super::client::LocatedBlock;
use super::queries::FileInfo;
use super::Namesystem;
use crate::error::{NnError, NnResult};
use crate::namespace::{self, Edit};
use crate::permission::{self, Access, Need, Subject};
use common::ids::{BlockId, GenStamp};
use common::journal::Commit;

/// The file's last block as the appending writer goes on from it.
#[derive(Debug)]
pub enum AppendFrom {
    /// No block yet: the first write adds one.
    Empty,
    /// The last block is full (id, stamp, length): the next write adds a block after it.
    Full {
        id: BlockId,
        gen: GenStamp,
        len: u64,
    },
    /// The last block is partial and reopened: the writer continues it.
    Partial(LocatedBlock),
}

impl Namesystem {
    /// Reopens `path` for `client` to append to.
    pub fn append(
        &self,
        who: &Subject,
        path: &str,
        client: &str,
    ) -> NnResult<(FileInfo, AppendFrom, Commit)> {
        let path = namespace::normalize(path)?;
        if client.is_empty() {
            return Err(NnError::InvalidArgument(format!(
                "{path}: append needs a client name to hold the lease"
            )));
        }
        let mut st = self.meta.lock();
        st.check_writable()?;
        let need = Need {
            access: Some(Access::WRITE),
            ..Need::default()
        };
        permission::check(&st.ns, who, &path, need)?;
        let (_, f) = st.ns.file(&path)?;
        if let Some(holder) = st.ns.client_of(f) {
            return Err(NnError::AlreadyExists(format!(
                "{path} (it is being written by {holder}; append once it is closed, or after \
                 its lease is recovered)"
            )));
        }
        let last = f.last_block().map(|b| (b.id, b.gen, b.len));
        let reopen_last = matches!(last, Some((_, _, len)) if len < f.block_size);
        let offset = f.length() - last.map_or(0, |l| l.2);
        // The replicas the last block has are the pipeline the writer reopens (and the holders
        // a lease recovery asks, should the writer die).
        let holders = match last {
            Some((id, ..)) if reopen_last => st.blocks.locations(id).to_vec(),
            _ => Vec::new(),
        };
        if reopen_last && holders.is_empty() {
            return Err(NnError::NoDatanodes(format!(
                "{path}: its last block has no live replica to append to (see `mrctl fs fsck \
                 {path}`); wait for the datanodes to report it, then append again"
            )));
        }
        let commit = self.log(
            &mut st,
            Edit::Append {
                path: path.clone(),
                client: client.into(),
                reopen_last,
            },
        )?;
        let now = self.clock.now();
        st.leases.add_path(client, &path, now);
        let from = match last {
            None => AppendFrom::Empty,
            Some((id, gen, len)) if !reopen_last => AppendFrom::Full { id, gen, len },
            Some((id, gen, len)) => {
                let nodes = holders.iter().map(|&n| st.dns.info(n)).collect();
                st.blocks.expected.insert(id, holders);
                AppendFrom::Partial(LocatedBlock {
                    id,
                    gen,
                    len,
                    offset,
                    nodes,
                    corrupt: false,
                })
            }
        };
        let status = st.status_of(&path)?;
        tracing::debug!(%path, %client, "reopened for append");
        Ok((status, from, commit))
    }
}
