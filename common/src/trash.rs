//! Where the trash lives and how its checkpoints are named (HDFS's TrashPolicyDefault):
//! `rm` moves a path to `/user/NAME/.Trash/Current/<its absolute path>`; the emptier (and
//! `expunge`) renames `Current` to a checkpoint named by the time it was taken, UTC
//! `yyMMddHHmmss`, and deletes checkpoints older than the trash interval.

/// The folder of a user's trash inside the home directory.
pub const TRASH: &str = ".Trash";
/// The checkpoint being filled.
pub const CURRENT: &str = "Current";
/// Where home directories live.
pub const HOMES: &str = "/user";

/// `/user/NAME`.
pub fn home_of(user: &str) -> String {
    format!("{HOMES}/{user}")
}

/// `/user/NAME/.Trash`.
pub fn trash_root(user: &str) -> String {
    format!("{HOMES}/{user}/{TRASH}")
}

/// Whether an absolute path is a trash or inside one (`/user/*/.Trash...`): removing it
/// deletes at once, as HDFS does.
pub fn in_trash(path: &str) -> bool {
    let mut parts = path.split('/').filter(|c| !c.is_empty());
    parts.next() == Some(&HOMES[1..]) && parts.next().is_some() && parts.next() == Some(TRASH)
}

/// Where `rm` moves `path` (absolute) in `user`'s trash.
pub fn trash_target(user: &str, path: &str) -> String {
    format!("{}/{CURRENT}{}", trash_root(user), path)
}

/// A checkpoint's name for the UTC time `ms` (milliseconds since the epoch): `yyMMddHHmmss`.
pub fn checkpoint_name(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{:02}{m:02}{d:02}{:02}{:02}{:02}",
        y.rem_euclid(100),
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The time a checkpoint was taken, in milliseconds since the epoch, from its name
/// (`yyMMddHHmmss`, maybe followed by `-N` when two were taken in one second); None for a
/// name that is not a checkpoint's (such as `Current`).
pub fn checkpoint_time(name: &str) -> Option<u64> {
    let stamp = name.split('-').next()?;
    if stamp.len() != 12 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |i: usize| stamp[i..i + 2].parse::<u64>().ok();
    let (y, mo, d, h, mi, s) = (n(0)?, n(2)?, n(4)?, n(6)?, n(8)?, n(10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(2000 + y as i64, mo as u32, d as u32);
    Some(((days as u64) * 86_400 + h * 3600 + mi * 60 + s) * 1000)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_names_round_trip_through_their_time() {
        // 2026-12-02 10:28:04 UTC.
        let ms = 1_796_207_284_000;
        assert_eq!(checkpoint_name(ms), "261202102804");
        assert_eq!(checkpoint_time("261202102804"), Some(ms));
        assert_eq!(checkpoint_time("261202102804-1"), Some(ms));
        assert_eq!(checkpoint_time(CURRENT), None);
        assert_eq!(checkpoint_time("261302102804"), None);
    }

    #[test]
    fn trash_paths_are_recognized() {
        assert_eq!(
            trash_target("alice", "/data/x"),
            "/user/alice/.Trash/Current/data/x"
        );
        assert!(in_trash("/user/alice/.Trash"));
        assert!(in_trash("/user/alice/.Trash/Current/data/x"));
        assert!(!in_trash("/user/alice/data"));
        assert!(!in_trash("/tmp/.Trash"));
    }
}
