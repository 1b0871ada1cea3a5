//! Limits on names (HDFS: 255 bytes a component, 1,000 components a path) refused with errors
//! naming the limit; `mrctl fs ls -R` of a tree as deep as the limit allows; names with control
//! characters printed escaped, never raw.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use tests::{data, mrctl, start};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn names_too_long_or_too_deep_are_refused_naming_the_limit() {
    let t = start(1, 1, |_| {});
    let long = format!("/lim/{}", "n".repeat(300));
    let o = mrctl(&t, &["fs", "mkdir", "-p", &long]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("longer than the limit of 255 bytes (max_component_length)"),
        "{err}"
    );
    let o = mrctl(&t, &["fs", "put", "-", &long]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("max_component_length"));
    let too_deep = "/d".repeat(1001);
    let o = mrctl(&t, &["fs", "mkdir", "-p", &too_deep]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("1001 components, deeper than the limit of 1000 (max_path_depth)"),
        "{err}"
    );
    assert!(!t.dfs.exists("/lim").unwrap() && !t.dfs.exists("/d").unwrap());
}

#[test]
fn ls_r_lists_a_tree_as_deep_as_the_limit_allows() {
    let t = start(1, 1, |_| {});
    let deepest = "/d".repeat(1000);
    t.dfs.mkdirs(&deepest).unwrap();
    let o = mrctl(&t, &["fs", "ls", "-R", "/d"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    // Every level below /d, the deepest last.
    assert_eq!(out.lines().count(), 999);
    assert!(out.lines().last().unwrap().ends_with(&deepest));
}

#[test]
fn names_with_control_characters_are_printed_escaped() {
    let t = start(1, 1, |_| {});
    t.dfs
        .write_file(
            "/esc/two\nlines\x1b[31m",
            &data(1000, 70),
            CreateOptions {
                create_parent: true,
                ..Default::default()
            },
        )
        .unwrap();
    let shown = "/esc/two\\nlines\\x1b[31m";
    let o = mrctl(&t, &["fs", "ls", "/esc"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert_eq!(out.lines().count(), 1, "one entry, one line: {out:?}");
    assert!(out.contains(shown), "{out:?}");
    assert!(!out.contains('\x1b'), "{out:?}");
    let o = mrctl(&t, &["fs", "fsck", "/esc", "--blocks"]);
    let out = text(&o.stdout);
    assert!(out.contains(shown) && !out.contains('\x1b'), "{out:?}");
    // An error naming such a path.
    let o = mrctl(&t, &["fs", "stat", "/esc/no\nsuch"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("/esc/no\\nsuch"), "{err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
}
