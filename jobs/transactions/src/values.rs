//! The pipeline's scalar values: amounts in exact fixed point (so sums and the 5x-average test
//! never round), currency rates, and `yyyy-MM-dd HH:mm:ss` timestamps.

/// Digits after the point of a USD amount: cents times a rate in thousandths is exact.
pub const USD_DIGITS: u32 = 5;

/// An amount with up to two fraction digits, in cents; None when it is not one.
pub fn parse_cents(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let frac_ok = if digits.contains('.') {
        (1..=2).contains(&frac.len())
    } else {
        true
    };
    if (int.is_empty() && frac.is_empty()) || int.len() > 15 || !frac_ok {
        return None;
    }
    if !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let whole: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let cents = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse::<i64>().ok()?,
    };
    let v = whole * 100 + cents;
    Some(if neg { -v } else { v })
}

/// The rate to USD in thousandths; a currency not in the table counts as USD.
pub fn rate_milli(currency: &str) -> i64 {
    match currency {
        "EUR" => 1100,
        "GBP" => 1300,
        "JPY" => 9,
        "CAD" => 800,
        _ => 1000,
    }
}

/// An amount in cents converted to USD, in units of 10^-USD_DIGITS.
pub fn to_usd(cents: i64, currency: &str) -> i64 {
    cents * rate_milli(currency)
}

/// A fixed-point number with `digits` fraction digits in plain decimal, trailing zeros cut.
pub fn format_fixed(v: i128, digits: u32) -> String {
    let scale = 10i128.pow(digits);
    let (sign, a) = if v < 0 { ("-", -v) } else { ("", v) };
    let (int, frac) = (a / scale, a % scale);
    if frac == 0 {
        return format!("{sign}{int}");
    }
    let f = format!("{frac:0width$}", width = digits as usize);
    format!("{sign}{int}.{}", f.trim_end_matches('0'))
}

/// A USD amount for output.
pub fn format_usd(v: i128) -> String {
    format_fixed(v, USD_DIGITS)
}

/// A mean of USD amounts for output (as a float: a mean need not be a finite decimal).
pub fn mean_usd(sum: i128, count: u64) -> String {
    if count == 0 {
        return String::new();
    }
    (sum as f64 / 10f64.powi(USD_DIGITS as i32) / count as f64).to_string()
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A `yyyy-MM-dd HH:mm:ss` timestamp as seconds since 1970-01-01 00:00:00; None when it is
/// not a valid one.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = &s[r];
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// The timestamp back in `yyyy-MM-dd HH:mm:ss`.
pub fn format_timestamp(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Inverse of days_from_civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Hour of the day, 0-23.
pub fn hour(t: i64) -> u32 {
    (t.rem_euclid(86_400) / 3600) as u32
}

/// Whether the timestamp falls on a Saturday or a Sunday.
pub fn is_weekend(t: i64) -> bool {
    // 1970-01-01 was a Thursday: day 0 is weekday 4 when Sunday is 0.
    let weekday = (t.div_euclid(86_400) + 4).rem_euclid(7);
    weekday == 0 || weekday == 6
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_exactly() {
        assert_eq!(parse_cents("12.5"), Some(1250));
        assert_eq!(parse_cents("-0.07"), Some(-7));
        assert_eq!(parse_cents("100"), Some(10000));
        assert_eq!(parse_cents(".5"), Some(50));
        for bad in ["", "-", "1.", "1.234", "1e5", "12,50", "abc", " 1", "--1"] {
            assert_eq!(parse_cents(bad), None, "{bad:?}");
        }
        assert_eq!(format_usd(to_usd(12345, "JPY").into()), "1.11105");
        assert_eq!(format_usd(to_usd(-250, "EUR").into()), "-2.75");
        assert_eq!(format_usd(to_usd(100, "XYZ").into()), "1");
    }

    #[test]
    fn timestamps_round_trip_and_know_weekends() {
        let t = parse_timestamp("2026-11-21 23:59:58").unwrap();
        assert_eq!(format_timestamp(t), "2026-11-21 23:59:58");
        assert_eq!(hour(t), 23);
        assert!(is_weekend(t), "2026-11-21 is a Saturday");
        assert!(!is_weekend(parse_timestamp("2026-11-20 12:00:00").unwrap()));
        assert!(is_weekend(parse_timestamp("2026-11-22 00:00:00").unwrap()));
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_timestamp("2024-02-29 00:00:00").map(|t| t % 86_400),
            Some(0)
        );
        for bad in [
            "2023-02-29 00:00:00",
            "2026-13-01 00:00:00",
            "2026-11-21T10:00:00",
            "2026-11-21 24:00:00",
            "yesterday",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }
}
