//! `find PATH... [-name GLOB] [-iname GLOB] [-type f|d] [-print]`: every entry at or under
//! the paths (the home directory when none is given) whose name matches and whose type is
//! the one asked, printed one per line, as `hdfs dfs -find` does.

use super::expand_all;
use crate::printable::escape;
use anyhow::bail;
use client::DfsClient;
use std::io::Write;

/// What an entry must satisfy.
#[derive(Default)]
struct Filter {
    name: Option<String>,
    /// `-iname`: the name compared lowercased.
    ignore_case: bool,
    /// `Some(true)`: directories only; `Some(false)`: files only.
    dirs: Option<bool>,
}

impl Filter {
    fn accepts(&self, path: &str, is_dir: bool) -> bool {
        if self.dirs.is_some_and(|d| d != is_dir) {
            return false;
        }
        let Some(pattern) = &self.name else {
            return true;
        };
        let name = path.rsplit('/').next().unwrap_or_default();
        if self.ignore_case {
            client::glob::matches(&pattern.to_lowercase(), &name.to_lowercase())
        } else {
            client::glob::matches(pattern, name)
        }
    }
}

/// Splits the arguments into paths and the expression after them.
fn parse(args: &[String]) -> anyhow::Result<(Vec<String>, Filter)> {
    let split = args
        .iter()
        .position(|a| a.starts_with('-'))
        .unwrap_or(args.len());
    let (paths, expr) = args.split_at(split);
    let mut f = Filter::default();
    let mut it = expr.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("find: {a} needs {what}"))
        };
        match a.as_str() {
            "-name" => f.name = Some(value("a pattern")?),
            "-iname" => {
                f.name = Some(value("a pattern")?);
                f.ignore_case = true;
            }
            "-type" => {
                f.dirs = match value("f or d")?.as_str() {
                    "d" => Some(true),
                    "f" => Some(false),
                    other => bail!("find: -type takes f or d, not '{other}'"),
                }
            }
            "-print" => {}
            other => bail!(
                "find: unknown expression '{other}' (known: -name GLOB, -iname GLOB, -type f|d, \
                 -print)"
            ),
        }
    }
    Ok((paths.to_vec(), f))
}

pub fn find(dfs: &DfsClient, args: &[String], out: &mut impl Write) -> anyhow::Result<()> {
    let (paths, filter) = parse(args)?;
    let roots = if paths.is_empty() {
        vec![dfs.home_dir()]
    } else {
        expand_all(dfs, &paths)?
    };
    for root in roots {
        // Its own stack: a tree thousands of levels deep cannot overflow ours.
        let mut todo = vec![dfs.stat(&root)?];
        while let Some(st) = todo.pop() {
            if filter.accepts(&st.path, st.is_dir) {
                writeln!(out, "{}", escape(&st.path))?;
            }
            if st.is_dir {
                todo.extend(dfs.list(&st.path)?.into_iter().rev());
            }
        }
    }
    Ok(())
}
