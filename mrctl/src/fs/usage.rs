//! Space: `count` (`-q` quotas, `-h`), `du` (`-s`, `-h`) and `df` (`-h`), in the columns of
//! `hdfs dfs`.

use super::expand_all;
use crate::printable::escape;
use client::DfsClient;
use std::io::Write;

/// `n` bytes as printed: exact, or with `human` in binary units as HDFS prints them (`1023`,
/// `1 K`, `1.5 M`, `64 M`).
pub fn size(n: u64, human: bool) -> String {
    if !human || n < 1024 {
        return n.to_string();
    }
    let units = ["K", "M", "G", "T", "P", "E"];
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", units[unit])
}

/// `count [-q] [-h] PATH...`: `DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME`; with `-q` first
/// `QUOTA REM_QUOTA SPACE_QUOTA REM_SPACE_QUOTA` (`none` and `inf` where no quota is set).
pub fn count(
    dfs: &DfsClient,
    paths: &[String],
    quotas: bool,
    human: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    for path in expand_all(dfs, paths)? {
        let c = dfs.content_summary(&path)?;
        let mut line = String::new();
        if quotas {
            let (quota, remaining) = match c.name_quota {
                Some(q) => {
                    let used = (c.files + c.directories) as i64;
                    (q.to_string(), (q - used).to_string())
                }
                None => ("none".into(), "inf".into()),
            };
            let (space, space_left) = match c.space_quota {
                Some(q) => {
                    let left = q - c.space_consumed as i64;
                    let shown = |v: i64| match u64::try_from(v) {
                        Ok(v) => size(v, human),
                        Err(_) => v.to_string(),
                    };
                    (shown(q), shown(left))
                }
                None => ("none".into(), "inf".into()),
            };
            line.push_str(&format!(
                "{quota:>12} {remaining:>15} {space:>15} {space_left:>15} "
            ));
        }
        line.push_str(&format!(
            "{:>12} {:>12} {:>18} {}",
            c.directories,
            c.files,
            size(c.length, human),
            escape(&path)
        ));
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `du [-s] [-h] PATH...`: `SIZE SPACE_CONSUMED PATH` for each entry of a directory, or for
/// the path itself with `-s` (and for a file).
pub fn du(
    dfs: &DfsClient,
    paths: &[String],
    summary: bool,
    human: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    for path in expand_all(dfs, paths)? {
        let st = dfs.stat(&path)?;
        let entries = if summary || !st.is_dir {
            vec![st.path]
        } else {
            dfs.list(&path)?.into_iter().map(|e| e.path).collect()
        };
        for p in entries {
            let c = dfs.content_summary(&p)?;
            writeln!(
                out,
                "{:>14} {:>14} {}",
                size(c.length, human),
                size(c.space_consumed, human),
                escape(&p)
            )?;
        }
    }
    Ok(())
}

/// `df [-h]`: the capacity, used and remaining bytes of the live datanodes, and use%.
pub fn df(dfs: &DfsClient, human: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let report = dfs.cluster_report()?;
    let live = report.datanodes.iter().filter(|d| d.state == "live");
    let (capacity, used, remaining) = live.fold((0u64, 0u64, 0u64), |(c, u, r), d| {
        (c + d.capacity, u + d.used, r + d.remaining)
    });
    let percent = if capacity == 0 {
        0
    } else {
        (used as u128 * 100 / capacity as u128) as u64
    };
    writeln!(
        out,
        "{:<28} {:>14} {:>14} {:>14} {:>5}",
        "Filesystem", "Size", "Used", "Available", "Use%"
    )?;
    writeln!(
        out,
        "{:<28} {:>14} {:>14} {:>14} {:>4}%",
        format!("dfs://{}", dfs.namenode_addr()),
        size(capacity, human),
        size(used, human),
        size(remaining, human),
        percent
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn human_sizes_are_binary_with_one_decimal() {
        assert_eq!(size(1023, true), "1023");
        assert_eq!(size(1024, true), "1 K");
        assert_eq!(size(1536, true), "1.5 K");
        assert_eq!(size(64 << 20, true), "64 M");
        assert_eq!(size(3_000_000, true), "2.9 M");
        assert_eq!(size(3_000_000, false), "3000000");
    }
}
