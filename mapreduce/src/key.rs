//! Order-preserving ("memcomparable") key encoding: comparing encoded bytes gives the typed
//! order, so the map side sorts raw bytes and the reduce side merges raw bytes, without
//! decoding. Tuples encode field after field; a key can be grouped by its first fields (a
//! secondary sort) because every field's encoding is self-delimiting.

use crate::error::{MrError, MrResult};
use std::fmt;

/// A type usable as a map output key.
pub trait Key: Sized {
    /// Appends the order-preserving encoding of `self`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Decodes one key from the front of `input`, advancing it.
    fn decode(input: &mut &[u8]) -> MrResult<Self>;
    /// Skips one encoded key at the front of `input`.
    fn skip(input: &mut &[u8]) -> MrResult<()> {
        Self::decode(input).map(|_| ())
    }
    /// Byte length of the first `fields` fields of an encoded key; a scalar has one field,
    /// a tuple one per element. Grouping and partitioning by a prefix use it.
    fn prefix_len(encoded: &[u8], fields: usize) -> MrResult<usize> {
        if fields == 0 {
            return Ok(0);
        }
        let mut rest = encoded;
        Self::skip(&mut rest)?;
        Ok(encoded.len() - rest.len())
    }

    /// The encoding as a new vector.
    fn to_key_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

fn take<'a>(input: &mut &'a [u8], n: usize, what: &str) -> MrResult<&'a [u8]> {
    if input.len() < n {
        return Err(MrError::Decode(format!("truncated {what} key")));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

macro_rules! unsigned_key {
    ($($t:ty),*) => {$(
        impl Key for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn decode(input: &mut &[u8]) -> MrResult<Self> {
                let b = take(input, std::mem::size_of::<$t>(), stringify!($t))?;
                Ok(<$t>::from_be_bytes(b.try_into().expect("exact size")))
            }
        }
    )*};
}
unsigned_key!(u8, u16, u32, u64, u128);

macro_rules! signed_key {
    ($($t:ty => $u:ty),*) => {$(
        impl Key for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                // Flipping the sign bit orders negatives before positives as unsigned bytes.
                let flipped = (*self as $u) ^ (1 << (<$u>::BITS - 1));
                out.extend_from_slice(&flipped.to_be_bytes());
            }
            fn decode(input: &mut &[u8]) -> MrResult<Self> {
                let b = take(input, std::mem::size_of::<$t>(), stringify!($t))?;
                let u = <$u>::from_be_bytes(b.try_into().expect("exact size"));
                Ok((u ^ (1 << (<$u>::BITS - 1))) as $t)
            }
        }
    )*};
}
signed_key!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128);

impl Key for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    fn decode(input: &mut &[u8]) -> MrResult<Self> {
        match take(input, 1, "bool")?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(MrError::Decode(format!("bad bool key byte {b}"))),
        }
    }
}

/// Strings: each 0x00 byte is written 0x00 0xFF and the end is 0x00 0x01, so a prefix sorts
/// before its extensions and no terminator can be mistaken for content.
/// Anything that encodes like a key, sized or not: lets a mapper whose key type is `String`
/// emit a borrowed `&str` without allocating.
pub trait EncodeKey {
    fn encode_key(&self, out: &mut Vec<u8>);
}

impl<T: Key> EncodeKey for T {
    fn encode_key(&self, out: &mut Vec<u8>) {
        self.encode(out)
    }
}

/// Encodes exactly as `String` does.
impl EncodeKey for str {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_bytes(self.as_bytes(), out)
    }
}

impl Key for String {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_bytes(self.as_bytes(), out);
    }
    fn decode(input: &mut &[u8]) -> MrResult<Self> {
        let bytes = decode_bytes(input)?;
        String::from_utf8(bytes).map_err(|_| MrError::Decode("string key is not UTF-8".into()))
    }
    fn skip(input: &mut &[u8]) -> MrResult<()> {
        skip_bytes(input)
    }
}

impl Key for Vec<u8> {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_bytes(self, out);
    }
    fn decode(input: &mut &[u8]) -> MrResult<Self> {
        decode_bytes(input)
    }
    fn skip(input: &mut &[u8]) -> MrResult<()> {
        skip_bytes(input)
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    // Copies runs between zero bytes whole; each zero becomes 0x00 0xFF.
    let mut rest = bytes;
    while let Some(z) = rest.iter().position(|&b| b == 0) {
        out.extend_from_slice(&rest[..=z]);
        out.push(0xFF);
        rest = &rest[z + 1..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(&[0x00, 0x01]);
}

fn decode_bytes(input: &mut &[u8]) -> MrResult<Vec<u8>> {
    let mut out = Vec::new();
    scan_bytes(input, |run| out.extend_from_slice(run))?;
    Ok(out)
}

fn skip_bytes(input: &mut &[u8]) -> MrResult<()> {
    scan_bytes(input, |_| {})
}

/// Walks an encoded string key, handing each run of its decoded bytes to `run`, and moves
/// `input` past its terminator.
fn scan_bytes(input: &mut &[u8], mut run: impl FnMut(&[u8])) -> MrResult<()> {
    let mut i = 0;
    while let Some(p) = input[i..].iter().position(|&b| b == 0) {
        let at = i + p;
        match input.get(at + 1) {
            // An escaped zero: the run keeps it.
            Some(0xFF) => {
                run(&input[i..=at]);
                i = at + 2;
            }
            Some(0x01) => {
                run(&input[i..at]);
                *input = &input[at + 2..];
                return Ok(());
            }
            _ => break,
        }
    }
    Err(MrError::Decode("unterminated string key".into()))
}

/// None sorts before every Some.
impl<T: Key> Key for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.encode(out);
            }
        }
    }
    fn decode(input: &mut &[u8]) -> MrResult<Self> {
        match take(input, 1, "option")?[0] {
            0 => Ok(None),
            1 => T::decode(input).map(Some),
            b => Err(MrError::Decode(format!("bad option key byte {b}"))),
        }
    }
    fn skip(input: &mut &[u8]) -> MrResult<()> {
        match take(input, 1, "option")?[0] {
            0 => Ok(()),
            _ => T::skip(input),
        }
    }
}

macro_rules! tuple_key {
    ($($name:ident),+) => {
        impl<$($name: Key),+> Key for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.encode(out);)+
            }
            fn decode(input: &mut &[u8]) -> MrResult<Self> {
                Ok(($($name::decode(input)?,)+))
            }
            fn skip(input: &mut &[u8]) -> MrResult<()> {
                $($name::skip(input)?;)+
                Ok(())
            }
            fn prefix_len(encoded: &[u8], fields: usize) -> MrResult<usize> {
                let mut rest = encoded;
                let mut left = fields;
                $(
                    if left == 0 {
                        return Ok(encoded.len() - rest.len());
                    }
                    $name::skip(&mut rest)?;
                    left -= 1;
                )+
                let _ = left;
                Ok(encoded.len() - rest.len())
            }
        }
    };
}
tuple_key!(A);
tuple_key!(A, B);
tuple_key!(A, B, C);
tuple_key!(A, B, C, D);
tuple_key!(A, B, C, D, E);

/// Fixed-length bytes compare as they are (terasort's 10-byte keys).
impl<const N: usize> Key for [u8; N] {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn decode(input: &mut &[u8]) -> MrResult<Self> {
        let b = take(input, N, "fixed bytes")?;
        Ok(b.try_into().expect("exact size"))
    }
}

/// The empty key: every record in one group (a job-wide total).
impl Key for () {
    fn encode(&self, _out: &mut Vec<u8>) {}
    fn decode(_input: &mut &[u8]) -> MrResult<Self> {
        Ok(())
    }
}

/// A fixed-point decimal with 9 fraction digits (exact for money and rates).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Decimal(pub i128);

impl Decimal {
    pub const SCALE: u32 = 9;
    const ONE: i128 = 1_000_000_000;

    /// Parses `-123.45`, `7`, `0.009`; more than 9 fraction digits is an error.
    pub fn parse(s: &str) -> MrResult<Decimal> {
        let t = s.trim();
        let bad = || MrError::Decode(format!("'{s}' is not a decimal"));
        let (neg, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if (int.is_empty() && frac.is_empty())
            || frac.len() > Self::SCALE as usize
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let int: i128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad())?
        };
        let mut f: i128 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        f *= 10i128.pow(Self::SCALE - frac.len() as u32);
        let v = int
            .checked_mul(Self::ONE)
            .and_then(|v| v.checked_add(f))
            .ok_or_else(bad)?;
        Ok(Decimal(if neg { -v } else { v }))
    }

    pub fn from_f64(x: f64) -> Decimal {
        Decimal((x * Self::ONE as f64).round() as i128)
    }

    pub fn to_f64(self) -> f64 {
        self.0 as f64 / Self::ONE as f64
    }
}

impl std::ops::Mul for Decimal {
    type Output = Decimal;

    /// The product, rounded half away from zero to 9 fraction digits.
    fn mul(self, other: Decimal) -> Decimal {
        let p = self.0 * other.0;
        let half = Self::ONE / 2;
        Decimal(if p >= 0 {
            (p + half) / Self::ONE
        } else {
            (p - half) / Self::ONE
        })
    }
}

impl std::ops::Add for Decimal {
    type Output = Decimal;
    fn add(self, o: Decimal) -> Decimal {
        Decimal(self.0 + o.0)
    }
}

impl std::ops::Sub for Decimal {
    type Output = Decimal;
    fn sub(self, o: Decimal) -> Decimal {
        Decimal(self.0 - o.0)
    }
}

/// Plain decimal notation without trailing fraction zeros: `12.5`, `-0.009`, `3`.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let int = abs / Self::ONE as u128;
        let frac = abs % Self::ONE as u128;
        if neg {
            write!(f, "-")?;
        }
        if frac == 0 {
            return write!(f, "{int}");
        }
        let digits = format!("{frac:09}");
        write!(f, "{int}.{}", digits.trim_end_matches('0'))
    }
}

impl Key for Decimal {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
    fn decode(input: &mut &[u8]) -> MrResult<Self> {
        i128::decode(input).map(Decimal)
    }
}

/// A point in time without time zone, in milliseconds since 1970-01-01 00:00:00.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const MS_PER_DAY: i64 = 86_400_000;

    /// Parses `yyyy-MM-dd HH:mm:ss`.
    pub fn parse(s: &str) -> MrResult<Timestamp> {
        let bad = || MrError::Decode(format!("'{s}' is not a yyyy-MM-dd HH:mm:ss timestamp"));
        let b = s.trim().as_bytes();
        if b.len() != 19
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b' '
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> MrResult<i64> {
            let part = &b[r];
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(bad());
            }
            Ok(part.iter().fold(0i64, |a, d| a * 10 + (d - b'0') as i64))
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo)
            || d < 1
            || d > days_in_month(y, mo)
            || h > 23
            || mi > 59
            || sec > 59
        {
            return Err(bad());
        }
        let days = days_from_civil(y, mo, d);
        Ok(Timestamp(
            days * Self::MS_PER_DAY + (h * 3600 + mi * 60 + sec) * 1000,
        ))
    }

    /// Days since 1970-01-01 (negative before).
    pub fn day(self) -> i64 {
        self.0.div_euclid(Self::MS_PER_DAY)
    }

    /// Hour of the day, 0 to 23.
    pub fn hour(self) -> u32 {
        (self.0.rem_euclid(Self::MS_PER_DAY) / 3_600_000) as u32
    }

    /// Day of the week, 0 = Monday ... 6 = Sunday.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday.
        (self.day() + 3).rem_euclid(7) as u32
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.day());
        let ms = self.0.rem_euclid(Self::MS_PER_DAY) / 1000;
        write!(
            f,
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
            ms / 3600,
            ms / 60 % 60,
            ms % 60
        )
    }
}

impl Key for Timestamp {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
    fn decode(input: &mut &[u8]) -> MrResult<Self> {
        i64::decode(input).map(Timestamp)
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil calendar algorithms.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Mul;

    fn assert_order_preserved<K: Key + Ord + Clone + fmt::Debug>(mut values: Vec<K>) {
        values.sort();
        let mut encoded: Vec<(Vec<u8>, K)> = values
            .iter()
            .map(|v| (v.to_key_bytes(), v.clone()))
            .collect();
        encoded.sort_by(|a, b| a.0.cmp(&b.0));
        let by_bytes: Vec<K> = encoded.iter().map(|e| e.1.clone()).collect();
        assert_eq!(by_bytes, values, "byte order differs from typed order");
        for (bytes, v) in &encoded {
            let mut s = bytes.as_slice();
            assert_eq!(&K::decode(&mut s).expect("decode"), v);
            assert!(s.is_empty());
        }
    }

    fn pseudo_random(n: usize) -> Vec<u64> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..n)
            .map(|_| {
                x ^= x << 7;
                x ^= x >> 9;
                x
            })
            .collect()
    }

    #[test]
    fn integers_keep_their_order() {
        let r = pseudo_random(500);
        assert_order_preserved(
            r.iter()
                .map(|&x| x as i64)
                .chain([i64::MIN, -1, 0, 1, i64::MAX])
                .collect(),
        );
        assert_order_preserved(r.iter().map(|&x| x as u32).chain([0, u32::MAX]).collect());
        assert_order_preserved(r.iter().map(|&x| x as i32).chain([i32::MIN, 0]).collect());
    }

    #[test]
    fn strings_keep_their_order_even_with_nul_bytes_and_prefixes() {
        let mut v: Vec<String> = [
            "",
            "a",
            "a\0",
            "a\0b",
            "ab",
            "b",
            "\0",
            "\u{e9}t\u{e9}",
            "zz",
            "a\u{1}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(
            pseudo_random(300)
                .iter()
                .map(|x| format!("{:x}", x % 100_000)),
        );
        assert_order_preserved(v);
    }

    #[test]
    fn tuples_decimals_timestamps_options_bools_keep_their_order() {
        let r = pseudo_random(300);
        let tuples: Vec<(String, i64, bool)> = r
            .iter()
            .map(|&x| (format!("c{}", x % 7), (x % 1000) as i64 - 500, x % 2 == 0))
            .collect();
        assert_order_preserved(tuples);
        assert_order_preserved(
            r.iter()
                .map(|&x| Decimal((x % 1_000_000_000_000) as i128 - 500_000_000_000))
                .collect(),
        );
        assert_order_preserved(
            r.iter()
                .map(|&x| Timestamp((x % 10_000_000_000_000) as i64 - 5_000_000_000_000))
                .collect(),
        );
        assert_order_preserved(r.iter().map(|&x| (x % 3 != 0).then_some(x % 50)).collect());
    }

    #[test]
    fn prefix_len_finds_the_grouping_fields() {
        let k = ("customer-7".to_string(), Timestamp(5), 42u64);
        let bytes = k.to_key_bytes();
        let one = <(String, Timestamp, u64)>::prefix_len(&bytes, 1).expect("prefix");
        assert_eq!(
            &bytes[..one],
            "customer-7".to_string().to_key_bytes().as_slice()
        );
        assert_eq!(
            <(String, Timestamp, u64)>::prefix_len(&bytes, 3).expect("all"),
            bytes.len()
        );
        assert_eq!(
            <(String, Timestamp, u64)>::prefix_len(&bytes, 0).expect("none"),
            0
        );
    }

    #[test]
    fn decimals_parse_print_and_multiply_exactly() {
        for (s, shown) in [
            ("12.50", "12.5"),
            ("-0.009", "-0.009"),
            ("7", "7"),
            ("0.1", "0.1"),
            ("+3.", "3"),
        ] {
            assert_eq!(Decimal::parse(s).expect(s).to_string(), shown);
        }
        for bad in ["", "1.2.3", "abc", "1.0000000001", "--1", "1e5"] {
            assert!(Decimal::parse(bad).is_err(), "{bad}");
        }
        let amount = Decimal::parse("10000.01").expect("amount");
        assert_eq!(
            amount.mul(Decimal::parse("1.1").expect("rate")).to_string(),
            "11000.011"
        );
        assert_eq!(
            amount
                .mul(Decimal::parse("0.009").expect("rate"))
                .to_string(),
            "90.00009"
        );
    }

    #[test]
    fn timestamps_parse_print_and_know_their_weekday() {
        let t = Timestamp::parse("2024-03-09 23:59:58").expect("parse");
        assert_eq!(t.to_string(), "2024-03-09 23:59:58");
        assert_eq!((t.hour(), t.weekday()), (23, 5)); // a Saturday
        assert_eq!(
            Timestamp::parse("1970-01-01 00:00:00").expect("epoch"),
            Timestamp(0)
        );
        assert_eq!(
            Timestamp::parse("1969-12-31 23:00:00")
                .expect("before")
                .to_string(),
            "1969-12-31 23:00:00"
        );
        for bad in [
            "2024-02-30 00:00:00",
            "2024-13-01 00:00:00",
            "2024-01-01",
            "2024-01-01T00:00:00",
            "2023-02-29 00:00:00",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        assert!(Timestamp::parse("2024-02-29 12:00:00").is_ok());
    }
}
