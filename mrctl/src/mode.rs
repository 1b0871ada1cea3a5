//! The MODE argument of `mrctl fs chmod`, as `hdfs dfs -chmod` takes it: octal (`640`, `1777`)
//! or symbolic clauses (`u+x,go-w`, `a=rX`, `+t`), and how a mode shows in `ls`.

use std::fmt;

/// A parsed MODE: octal replaces the bits; symbolic clauses change them, entry by entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModeSpec {
    Octal(u32),
    Symbolic(Vec<Clause>),
}

/// One symbolic clause: who (`u`, `g`, `o` bits as 0o700/0o070/0o007), the operator, and the
/// permissions (`r`, `w`, `x`, `X`: execute for directories or what is already executable,
/// `t`: the sticky bit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clause {
    who: u32,
    op: char,
    perms: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct BadMode(String);

impl fmt::Display for BadMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid mode '{}': give octal digits (640, 1777) or clauses like u+x,go-w,a=rX,+t",
            self.0
        )
    }
}

impl std::error::Error for BadMode {}

impl std::str::FromStr for ModeSpec {
    type Err = BadMode;

    fn from_str(s: &str) -> Result<ModeSpec, BadMode> {
        let bad = || BadMode(s.to_string());
        if !s.is_empty() && s.chars().all(|c| c.is_digit(8)) {
            let m = u32::from_str_radix(s, 8).map_err(|_| bad())?;
            if s.len() > 4 || m > 0o1777 {
                return Err(bad());
            }
            return Ok(ModeSpec::Octal(m));
        }
        let mut clauses = Vec::new();
        for part in s.split(',') {
            let at = part.find(['+', '-', '=']).ok_or_else(bad)?;
            let (who_s, rest) = part.split_at(at);
            let mut who = 0;
            for c in who_s.chars() {
                who |= match c {
                    'u' => 0o700,
                    'g' => 0o070,
                    'o' => 0o007,
                    'a' => 0o777,
                    _ => return Err(bad()),
                };
            }
            if who == 0 {
                who = 0o777;
            }
            let mut chars = rest.chars();
            let op = chars.next().ok_or_else(bad)?;
            let perms: String = chars.collect();
            if !perms.chars().all(|c| "rwxXt".contains(c)) {
                return Err(bad());
            }
            clauses.push(Clause { who, op, perms });
        }
        Ok(ModeSpec::Symbolic(clauses))
    }
}

impl ModeSpec {
    /// The new mode of an entry whose mode is `old`.
    pub fn apply(&self, old: u32, is_dir: bool) -> u32 {
        let clauses = match self {
            ModeSpec::Octal(m) => return *m,
            ModeSpec::Symbolic(c) => c,
        };
        let mut mode = old & 0o1777;
        for c in clauses {
            let mut bits = 0;
            let mut sticky = false;
            for p in c.perms.chars() {
                bits |= match p {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' if is_dir || mode & 0o111 != 0 => 0o111,
                    't' => {
                        sticky = true;
                        0
                    }
                    _ => 0,
                };
            }
            let bits = bits & c.who;
            match c.op {
                '+' => mode |= bits | if sticky { 0o1000 } else { 0 },
                '-' => mode &= !(bits | if sticky { 0o1000 } else { 0 }),
                _ => {
                    mode = (mode & !c.who) | bits;
                    // `=` without `t` keeps the sticky bit unless the clause is about everyone.
                    if sticky {
                        mode |= 0o1000;
                    } else if c.who == 0o777 {
                        mode &= !0o1000;
                    }
                }
            }
        }
        mode
    }
}

/// `drwxr-xr-x` as `ls` shows an entry: its type, then 9 `rwx` characters with `t`/`T` in the
/// last place for the sticky bit.
pub fn mode_string(is_dir: bool, mode: u32) -> String {
    let mut s = String::from(if is_dir { "d" } else { "-" });
    for shift in [6, 3, 0] {
        let m = (mode >> shift) & 7;
        s.push(if m & 4 != 0 { 'r' } else { '-' });
        s.push(if m & 2 != 0 { 'w' } else { '-' });
        s.push(if m & 1 != 0 { 'x' } else { '-' });
    }
    if mode & 0o1000 != 0 {
        let x = s.pop() == Some('x');
        s.push(if x { 't' } else { 'T' });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> ModeSpec {
        s.parse().expect(s)
    }

    #[test]
    fn octal_modes_replace_the_bits() {
        assert_eq!(spec("640").apply(0o777, false), 0o640);
        assert_eq!(spec("1777").apply(0o755, true), 0o1777);
        assert!("8".parse::<ModeSpec>().is_err());
        assert!("17777".parse::<ModeSpec>().is_err());
    }

    #[test]
    fn symbolic_clauses_change_the_bits_they_name() {
        assert_eq!(spec("u+x,go-w").apply(0o666, false), 0o744);
        assert_eq!(spec("a=rX").apply(0o640, true), 0o555);
        assert_eq!(spec("a=rX").apply(0o640, false), 0o444);
        assert_eq!(spec("a=rX").apply(0o740, false), 0o555);
        assert_eq!(spec("+t").apply(0o777, true), 0o1777);
        assert_eq!(spec("-t").apply(0o1777, true), 0o777);
        assert_eq!(spec("o=").apply(0o755, false), 0o750);
        assert_eq!(spec("g+w").apply(0o1755, true), 0o1775);
        assert_eq!(spec("+x").apply(0o644, false), 0o755);
        for bad in ["u+q", "z+x", "rw", ""] {
            let e = bad.parse::<ModeSpec>().expect_err(bad);
            assert!(e.to_string().contains("u+x,go-w"), "{e}");
        }
    }

    #[test]
    fn the_mode_string_shows_the_sticky_bit() {
        assert_eq!(mode_string(true, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(true, 0o1776), "drwxrwxrwT");
        assert_eq!(mode_string(false, 0o600), "-rw-------");
    }
}
