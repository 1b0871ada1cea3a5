//! How typed keys and values become bytes: [`Value`] is the compact encoding values travel in
//! between map and reduce (and in binary record files); [`Fields`] is how a key or value is
//! written as columns of a text or CSV line.

use crate::error::{MrError, MrResult};
use crate::key::{Decimal, Key, Timestamp};
use std::fmt::{Display, Write as _};

/// A type usable as a map output value or a binary record's value.
///
/// Every [`Key`] that has [`Fields`] is a value too. For a struct, derive serde's traits and
/// use [`serde_value!`](crate::serde_value), or implement the two methods by hand.
pub trait Value: Fields + Sized {
    fn encode_value(&self, out: &mut Vec<u8>);
    fn decode_value(bytes: &[u8]) -> MrResult<Self>;
}

impl<T: Key + Fields> Value for T {
    fn encode_value(&self, out: &mut Vec<u8>) {
        self.encode(out)
    }
    fn decode_value(mut bytes: &[u8]) -> MrResult<Self> {
        T::decode(&mut bytes)
    }
}

/// Implements [`Value`] for a serde type with the compact postcard encoding.
#[macro_export]
macro_rules! serde_value {
    ($t:ty) => {
        impl $crate::Value for $t {
            fn encode_value(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(
                    &$crate::postcard::to_allocvec(self).expect("serializing to memory"),
                );
            }
            fn decode_value(bytes: &[u8]) -> $crate::MrResult<Self> {
                $crate::postcard::from_bytes(bytes)
                    .map_err(|e| $crate::MrError::Decode(format!("{}: {e}", stringify!($t))))
            }
        }
    };
}

/// Decodes a value, naming the type when it fails.
pub fn decode_value<V: Value>(bytes: &[u8]) -> MrResult<V> {
    V::decode_value(bytes)
        .map_err(|e| MrError::Decode(format!("value of type {}: {e}", std::any::type_name::<V>())))
}

/// How a line separates fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldStyle {
    /// Tab-separated, as Hadoop's text output.
    Tab,
    /// Comma-separated, quoted as RFC 4180 wants.
    Csv,
    /// Bytes as they are, no separators (fixed-length records).
    Raw,
}

/// Builds one output line from fields.
#[derive(Debug)]
pub struct FieldWriter {
    buf: Vec<u8>,
    style: FieldStyle,
    fields: usize,
    text: String,
}

impl FieldWriter {
    pub fn new(style: FieldStyle) -> Self {
        FieldWriter {
            buf: Vec::with_capacity(256),
            style,
            fields: 0,
            text: String::new(),
        }
    }

    pub fn style(&self) -> FieldStyle {
        self.style
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.fields = 0;
    }

    pub fn line(&self) -> &[u8] {
        &self.buf
    }

    fn separate(&mut self) {
        if self.fields > 0 {
            match self.style {
                FieldStyle::Tab => self.buf.push(b'\t'),
                FieldStyle::Csv => self.buf.push(b','),
                FieldStyle::Raw => {}
            }
        }
        self.fields += 1;
    }

    /// Appends one field of text.
    pub fn str(&mut self, s: &str) {
        self.separate();
        if self.style == FieldStyle::Csv && s.contains([',', '"', '\n', '\r']) {
            self.buf.push(b'"');
            for b in s.bytes() {
                if b == b'"' {
                    self.buf.push(b'"');
                }
                self.buf.push(b);
            }
            self.buf.push(b'"');
        } else {
            self.buf.extend_from_slice(s.as_bytes());
        }
    }

    /// Appends one field from its `Display` form.
    pub fn display(&mut self, v: impl Display) {
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        let _ = write!(text, "{v}");
        self.str(&text);
        self.text = text;
    }

    /// Appends one field of bytes (raw in raw and text lines, lossily as text in CSV).
    pub fn bytes(&mut self, b: &[u8]) {
        if self.style == FieldStyle::Csv {
            self.str(&String::from_utf8_lossy(b));
        } else {
            self.separate();
            self.buf.extend_from_slice(b);
        }
    }

    /// Appends an empty field.
    pub fn empty(&mut self) {
        self.separate();
    }
}

/// A type that can be written as columns of a text or CSV line.
pub trait Fields {
    fn write_fields(&self, w: &mut FieldWriter);
}

macro_rules! display_fields {
    ($($t:ty),*) => {$(
        impl Fields for $t {
            fn write_fields(&self, w: &mut FieldWriter) {
                w.display(self)
            }
        }
    )*};
}
display_fields!(
    u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, bool, Decimal, Timestamp, f64, f32
);

impl Fields for String {
    fn write_fields(&self, w: &mut FieldWriter) {
        w.str(self)
    }
}

impl Fields for str {
    fn write_fields(&self, w: &mut FieldWriter) {
        w.str(self)
    }
}

impl Fields for Vec<u8> {
    fn write_fields(&self, w: &mut FieldWriter) {
        w.bytes(self)
    }
}

impl<const N: usize> Fields for [u8; N] {
    fn write_fields(&self, w: &mut FieldWriter) {
        w.bytes(self)
    }
}

/// No columns at all: a key or value that is only there for grouping.
impl Fields for () {
    fn write_fields(&self, _w: &mut FieldWriter) {}
}

impl<T: Fields> Fields for Option<T> {
    fn write_fields(&self, w: &mut FieldWriter) {
        match self {
            Some(v) => v.write_fields(w),
            None => w.empty(),
        }
    }
}

impl<T: Fields + ?Sized> Fields for &T {
    fn write_fields(&self, w: &mut FieldWriter) {
        (**self).write_fields(w)
    }
}

macro_rules! tuple_fields {
    ($($name:ident),+) => {
        impl<$($name: Fields),+> Fields for ($($name,)+) {
            #[allow(non_snake_case)]
            fn write_fields(&self, w: &mut FieldWriter) {
                let ($($name,)+) = self;
                $($name.write_fields(w);)+
            }
        }
    };
}
tuple_fields!(A);
tuple_fields!(A, B);
tuple_fields!(A, B, C);
tuple_fields!(A, B, C, D);
tuple_fields!(A, B, C, D, E);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let mut w = FieldWriter::new(FieldStyle::Csv);
        (
            "a,b".to_string(),
            7u32,
            "say \"hi\"".to_string(),
            None::<u8>,
        )
            .write_fields(&mut w);
        assert_eq!(w.line(), b"\"a,b\",7,\"say \"\"hi\"\"\",");
    }

    #[test]
    fn text_is_tab_separated_and_values_round_trip() {
        let mut w = FieldWriter::new(FieldStyle::Tab);
        ("word".to_string(), 3u64).write_fields(&mut w);
        assert_eq!(w.line(), b"word\t3");
        let mut enc = Vec::new();
        (5u64, "x".to_string()).encode_value(&mut enc);
        let back: (u64, String) = decode_value(&enc).unwrap();
        assert_eq!(back, (5, "x".to_string()));
    }
}
