//! `checksum PATH...`: `PATH<TAB>COMPOSITE-CRC32<TAB>HEX` per file, the same for the same bytes
//! whatever the block sizes (HDFS's `-checksum` in COMPOSITE-CRC mode).

use super::expand_all;
use crate::printable::escape;
use anyhow::bail;
use client::checksum::FileChecksum;
use client::DfsClient;
use std::io::Write;

pub fn checksum(dfs: &DfsClient, paths: &[String], out: &mut impl Write) -> anyhow::Result<()> {
    for path in expand_all(dfs, paths)? {
        if dfs.stat(&path)?.is_dir {
            bail!("{}: Is a directory", escape(&path));
        }
        let c = dfs.file_checksum(&path)?;
        writeln!(
            out,
            "{}\t{}\t{:08x}",
            escape(&path),
            FileChecksum::ALGORITHM,
            c.crc
        )?;
    }
    Ok(())
}
