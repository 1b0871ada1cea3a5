//! The pipeline's scalar values: amounts in exact fixed point (so sums and the 5x-average test
//! never round), currency rates, and `yyyy-MM-dd HH:mm:ss` timestamps.

use mapreduce::Timestamp;

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

/// Whether a transaction_date falls on a Saturday or a Sunday.
pub fn is_weekend(t: Timestamp) -> bool {
    t.weekday() >= 5
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
    fn weekends_are_saturdays_and_sundays() {
        let at = |s: &str| Timestamp::parse(s).unwrap();
        assert!(is_weekend(at("2026-11-21 23:59:58")), "a Saturday");
        assert!(is_weekend(at("2026-11-22 00:00:00")), "a Sunday");
        assert!(!is_weekend(at("2026-11-20 12:00:00")), "a Friday");
    }
}
