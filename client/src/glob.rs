//! Path globs expanded client-side against directory listings, with the semantics of HDFS's
//! `GlobExpander` and `GlobFilter`: `*` (any run of characters but `/`), `?` (one character),
//! `[abc]`, `[a-z]`, `[^a]` or `[!a]` (a class), `{a,b}` (alternatives, nested allowed) and
//! `\` escaping the next character. A pattern without any of those names one path, which need
//! not exist (the verb decides); a pattern with them that matches nothing is an error
//! "PATTERN: No such file or directory".

use crate::dfs::DfsClient;
use crate::error::{ClientError, ClientResult};
use proto::dfs::FileStatus;

/// Whether `s` has a glob metacharacter (an unescaped `*`, `?`, `[` or `{`).
pub fn has_magic(s: &str) -> bool {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' | '{' => return true,
            _ => {}
        }
    }
    false
}

/// `s` with every `{a,b}` expanded, leftmost first: `/{a,b}/{x,y}` gives four patterns. An
/// unbalanced brace is kept as a literal character.
pub fn expand_braces(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '{' => {
                let Some((close, commas)) = matching_brace(&chars, i) else {
                    i += 1;
                    continue;
                };
                let prefix: String = chars[..i].iter().collect();
                let suffix: String = chars[close + 1..].iter().collect();
                let mut bounds = vec![i];
                bounds.extend(commas);
                bounds.push(close);
                let mut out = Vec::new();
                for w in bounds.windows(2) {
                    let alt: String = chars[w[0] + 1..w[1]].iter().collect();
                    out.extend(expand_braces(&format!("{prefix}{alt}{suffix}")));
                }
                return out;
            }
            _ => i += 1,
        }
    }
    vec![s.to_string()]
}

/// The `}` closing the `{` at `open`, and the top-level commas between them.
fn matching_brace(chars: &[char], open: usize) -> Option<(usize, Vec<usize>)> {
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((i, commas));
                }
            }
            ',' if depth == 1 => commas.push(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether the name `name` matches the one-component pattern `pat` (no braces, no `/`).
pub fn matches(pat: &str, name: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    let Some(&c) = p.first() else {
        return n.is_empty();
    };
    match c {
        '*' => (0..=n.len()).any(|k| match_from(&p[1..], &n[k..])),
        '?' => !n.is_empty() && match_from(&p[1..], &n[1..]),
        '[' => match class(p) {
            Some((set, len)) => {
                !n.is_empty() && set.contains(n[0]) && match_from(&p[len..], &n[1..])
            }
            None => n.first() == Some(&'[') && match_from(&p[1..], &n[1..]),
        },
        '\\' if p.len() > 1 => n.first() == Some(&p[1]) && match_from(&p[2..], &n[1..]),
        c => n.first() == Some(&c) && match_from(&p[1..], &n[1..]),
    }
}

/// A character class `[...]` at the start of `p` and its length; None when it is not closed.
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != self.negated
    }
}

fn class(p: &[char]) -> Option<(Class, usize)> {
    let mut i = 1;
    let negated = matches!(p.get(i), Some('^') | Some('!'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < p.len() {
        let mut c = p[i];
        if c == ']' && !first {
            return Some((Class { negated, ranges }, i + 1));
        }
        first = false;
        if c == '\\' && i + 1 < p.len() {
            i += 1;
            c = p[i];
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&h| h != ']') {
            ranges.push((c, p[i + 2]));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    None
}

/// `s` with glob escapes removed: the literal name it stands for.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl DfsClient {
    /// The entries `pattern` (made absolute with [`DfsClient::resolve`]) matches, in path
    /// order. Without metacharacters: the one path, an error when it does not exist.
    pub fn glob(&self, pattern: &str) -> ClientResult<Vec<FileStatus>> {
        let paths = self.glob_paths(pattern)?;
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            out.push(self.stat(&p)?);
        }
        Ok(out)
    }

    /// The paths `pattern` matches (absolute, in path order). A pattern without
    /// metacharacters gives its one path back whether or not it exists; one with them that
    /// matches nothing is [`ClientError::NotFound`] naming the pattern.
    pub fn glob_paths(&self, pattern: &str) -> ClientResult<Vec<String>> {
        let absolute = self.resolve_keeping_escapes(pattern);
        if !has_magic(&absolute) {
            return Ok(vec![self.resolve(&unescape(&absolute))]);
        }
        let mut found = Vec::new();
        for alt in expand_braces(&absolute) {
            let mut current = vec!["/".to_string()];
            for comp in alt.split('/').filter(|c| !c.is_empty()) {
                let mut next = Vec::new();
                for dir in &current {
                    if !has_magic(comp) {
                        next.push(join(dir, &unescape(comp)));
                        continue;
                    }
                    let entries = match self.list(dir) {
                        Ok(e) => e,
                        Err(e) if names_nothing(&e) => continue,
                        Err(e) => return Err(e),
                    };
                    for e in entries {
                        let name = e.path.rsplit('/').next().unwrap_or_default();
                        if matches(comp, name) {
                            next.push(e.path.clone());
                        }
                    }
                }
                current = next;
            }
            // Literal components after the last pattern may name nothing.
            for p in current {
                match self.stat(&p) {
                    Ok(_) => found.push(p),
                    Err(e) if names_nothing(&e) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        found.sort();
        found.dedup();
        if found.is_empty() {
            return Err(ClientError::NotFound(pattern.to_string()));
        }
        Ok(found)
    }

    /// Like [`DfsClient::resolve`] but leaving glob escapes for the matcher: only a relative
    /// pattern is prefixed with the home directory.
    fn resolve_keeping_escapes(&self, pattern: &str) -> String {
        if pattern.starts_with('/') {
            pattern.to_string()
        } else {
            format!("{}/{pattern}", self.home_dir())
        }
    }
}

/// Whether an error says a candidate path names nothing: it does not exist, or a component
/// of it is a file (`/file/x`, from `/*/x`), as HDFS's globber drops such candidates.
fn names_nothing(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::NotFound(_)
            | ClientError::Namenode {
                reason: proto::Reason::FailedPrecondition,
                ..
            }
    )
}

fn join(dir: &str, name: &str) -> String {
    match name {
        "." => dir.to_string(),
        ".." => match dir.rsplit_once('/') {
            Some(("", _)) | None => "/".to_string(),
            Some((parent, _)) => parent.to_string(),
        },
        _ => format!("{}/{name}", dir.trim_end_matches('/')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_questions_and_classes_match_one_component() {
        assert!(matches("*.txt", "a.txt"));
        assert!(!matches("*.txt", "a.txt.gz"));
        assert!(matches("part-?????", "part-00001"));
        assert!(matches("[ab]c", "bc"));
        assert!(!matches("[^ab]c", "bc"));
        assert!(matches("[!ab]c", "xc"));
        assert!(matches("f[0-9]", "f7"));
        assert!(!matches("f[0-9]", "fx"));
        assert!(matches("a\\*b", "a*b"));
        assert!(!matches("a\\*b", "axb"));
        assert!(matches("*", ""));
    }

    #[test]
    fn braces_expand_nested_and_leftmost_first() {
        assert_eq!(expand_braces("/d/{a,b}"), vec!["/d/a", "/d/b"]);
        assert_eq!(
            expand_braces("/{a,b{1,2}}/x"),
            vec!["/a/x", "/b1/x", "/b2/x"]
        );
        assert_eq!(expand_braces("/{a/x,b}"), vec!["/a/x", "/b"]);
        assert_eq!(expand_braces("/{unclosed"), vec!["/{unclosed"]);
        assert!(has_magic("/a/{b,c}") && has_magic("/a*") && !has_magic("/a\\*"));
    }
}
