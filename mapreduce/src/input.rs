//! Reading a split of an input file: the byte range `[start, end)` of one block (or of a small
//! file). Text lines and CSV records belong to the split where they start, so a line crossing a
//! block end is read whole by the split before it and skipped by the next; fixed-length records
//! belong to the split where they start too.

use crate::error::{IoContext, MrError, MrResult};
use std::io::BufRead;

/// Where a line split's reader must be positioned: one byte before the split, so the split can
/// tell whether its first byte starts a line.
pub fn line_split_read_from(start: u64) -> u64 {
    start.saturating_sub(1)
}

/// The lines of a split, each with the byte offset where it starts. `\n` ends a line and a
/// trailing `\r` is dropped.
pub struct LineSplit<R: BufRead> {
    input: R,
    /// Offset of the next unread byte.
    pos: u64,
    end: u64,
    name: String,
    line: Vec<u8>,
    started: bool,
}

impl<R: BufRead> LineSplit<R> {
    /// `input` is positioned at [`line_split_read_from`]`(start)`; `name` says what is read,
    /// for errors.
    pub fn new(input: R, start: u64, end: u64, name: impl Into<String>) -> Self {
        LineSplit {
            input,
            pos: line_split_read_from(start),
            end,
            name: name.into(),
            line: Vec::new(),
            started: start == 0,
        }
    }

    fn read_line(&mut self) -> MrResult<usize> {
        self.line.clear();
        let name = &self.name;
        let n = self
            .input
            .read_until(b'\n', &mut self.line)
            .ctx(|| format!("reading {name}"))?;
        self.pos += n as u64;
        Ok(n)
    }

    /// Offset of the next unread byte: how far into the file reading has gone.
    pub fn consumed_to(&self) -> u64 {
        self.pos
    }

    /// The next line that starts in this split: its offset and bytes (without the newline).
    pub fn next_line(&mut self) -> MrResult<Option<(u64, &[u8])>> {
        if !self.started {
            // Skip the tail of a line that started in the previous split (or, when the split
            // starts right after a newline, just that newline).
            self.started = true;
            self.read_line()?;
        }
        let offset = self.pos;
        if offset >= self.end {
            return Ok(None);
        }
        if self.read_line()? == 0 {
            return Ok(None);
        }
        let mut line: &[u8] = &self.line;
        if let Some(l) = line.strip_suffix(b"\n") {
            line = l.strip_suffix(b"\r").unwrap_or(l);
        }
        Ok(Some((offset, line)))
    }
}

/// Where a fixed-length split's reader must be positioned: the first record starting in it.
pub fn fixed_split_read_from(start: u64, record_len: u64) -> u64 {
    start.div_ceil(record_len.max(1)) * record_len.max(1)
}

/// Fixed-length records of a split.
pub struct FixedSplit<R: std::io::Read> {
    input: R,
    pos: u64,
    end: u64,
    record: Vec<u8>,
    name: String,
}

impl<R: std::io::Read> FixedSplit<R> {
    /// `input` is positioned at [`fixed_split_read_from`]`(start, record_len)`.
    pub fn new(input: R, start: u64, end: u64, record_len: usize, name: impl Into<String>) -> Self {
        FixedSplit {
            input,
            pos: fixed_split_read_from(start, record_len as u64),
            end,
            record: vec![0; record_len],
            name: name.into(),
        }
    }

    /// The next record that starts in this split, with its offset. A file whose length is not
    /// a whole number of records ends in an error naming the offset.
    pub fn next_record(&mut self) -> MrResult<Option<(u64, &[u8])>> {
        if self.pos >= self.end || self.record.is_empty() {
            return Ok(None);
        }
        let offset = self.pos;
        let mut filled = 0;
        while filled < self.record.len() {
            let name = &self.name;
            let n = self
                .input
                .read(&mut self.record[filled..])
                .ctx(|| format!("reading {name}"))?;
            if n == 0 {
                if filled == 0 {
                    return Ok(None);
                }
                return Err(MrError::Decode(format!(
                    "{}: partial record of {filled} bytes at offset {offset} (records are {} bytes)",
                    self.name,
                    self.record.len()
                )));
            }
            filled += n;
        }
        self.pos += self.record.len() as u64;
        Ok(Some((offset, &self.record)))
    }
}

/// Splits one CSV record (RFC 4180: comma separated, fields optionally quoted, `""` inside
/// quotes is a quote). Returns None when a quoted field is still open at the end of `text` (the
/// record goes on on the next line).
pub fn parse_csv_record(text: &str) -> Result<Option<Vec<String>>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    loop {
        let Some(c) = chars.next() else {
            fields.push(std::mem::take(&mut field));
            return Ok(Some(fields));
        };
        match c {
            '"' if at_field_start => {
                // A quoted field: up to the closing quote, then a comma or the end.
                loop {
                    match chars.next() {
                        None => return Ok(None),
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(ch) => field.push(ch),
                    }
                }
                match chars.next() {
                    None => {
                        fields.push(std::mem::take(&mut field));
                        return Ok(Some(fields));
                    }
                    Some(',') => {
                        fields.push(std::mem::take(&mut field));
                        at_field_start = true;
                    }
                    Some(other) => {
                        return Err(format!(
                            "'{other}' after the closing quote of field {}",
                            fields.len() + 1
                        ))
                    }
                }
            }
            '"' => {
                return Err(format!(
                    "a quote inside unquoted field {} (quote the field and double the quote)",
                    fields.len() + 1
                ))
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            other => {
                field.push(other);
                at_field_start = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor, Seek, SeekFrom};

    fn text(lines: usize) -> Vec<u8> {
        let mut s = String::new();
        for i in 0..lines {
            // Lines of varying length, some empty, some with \r\n.
            let body = "x".repeat(i * 7 % 23);
            if i % 5 == 0 {
                s.push_str(&format!("{i}:{body}\r\n"));
            } else if i % 11 == 0 {
                s.push('\n');
            } else {
                s.push_str(&format!("{i}:{body}\n"));
            }
        }
        s.push_str("last line without newline");
        s.into_bytes()
    }

    fn all_lines(data: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut r = LineSplit::new(BufReader::new(data), 0, data.len() as u64, "whole");
        let mut v = Vec::new();
        while let Some((o, l)) = r.next_line().expect("line") {
            v.push((o, l.to_vec()));
        }
        v
    }

    #[test]
    fn every_line_is_read_by_exactly_one_split_wherever_the_splits_fall() {
        let data = text(300);
        let whole = all_lines(&data);
        assert_eq!(whole.last().expect("last").1, b"last line without newline");
        assert!(whole.iter().all(|(_, l)| !l.ends_with(b"\r")));
        for split in [1u64, 2, 3, 7, 10, 64, 100, 997, 5000] {
            let mut got = Vec::new();
            let mut start = 0;
            while start < data.len() as u64 {
                let end = (start + split).min(data.len() as u64);
                let mut c = Cursor::new(&data);
                c.seek(SeekFrom::Start(line_split_read_from(start)))
                    .expect("seek");
                let mut r = LineSplit::new(BufReader::new(c), start, end, "split");
                while let Some((o, l)) = r.next_line().expect("line") {
                    assert!(
                        o >= start && o < end,
                        "line at {o} read by split {start}..{end}"
                    );
                    got.push((o, l.to_vec()));
                }
                start = end;
            }
            assert_eq!(got, whole, "split size {split}");
        }
    }

    #[test]
    fn fixed_records_belong_to_the_split_where_they_start() {
        let data: Vec<u8> = (0..100u32 * 10).map(|i| (i / 10) as u8).collect();
        for split in [7u64, 10, 33, 1000] {
            let mut got = Vec::new();
            let mut start = 0;
            while start < data.len() as u64 {
                let end = (start + split).min(data.len() as u64);
                let mut c = Cursor::new(&data);
                c.seek(SeekFrom::Start(fixed_split_read_from(start, 10)))
                    .expect("seek");
                let mut r = FixedSplit::new(c, start, end, 10, "fixed");
                while let Some((o, rec)) = r.next_record().expect("record") {
                    assert_eq!(rec, &[(o / 10) as u8; 10][..]);
                    got.push(o);
                }
                start = end;
            }
            assert_eq!(
                got,
                (0..100u64).map(|i| i * 10).collect::<Vec<_>>(),
                "split {split}"
            );
        }
        let mut r = FixedSplit::new(Cursor::new(&data[..995]), 0, 995, 10, "short.dat");
        let err = loop {
            match r.next_record() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("a partial record must be an error"),
                Err(e) => break e.to_string(),
            }
        };
        assert!(
            err.contains("short.dat") && err.contains("offset 990"),
            "{err}"
        );
    }

    #[test]
    fn csv_records_follow_rfc_4180() {
        let ok = |s: &str| parse_csv_record(s).expect(s).expect("complete");
        assert_eq!(ok("a,b,c"), vec!["a", "b", "c"]);
        assert_eq!(ok(""), vec![""]);
        assert_eq!(ok("a,,"), vec!["a", "", ""]);
        assert_eq!(
            ok(r#""x, y","say ""hi""",z"#),
            vec!["x, y", r#"say "hi""#, "z"]
        );
        assert_eq!(ok("\"\",1"), vec!["", "1"]);
        assert_eq!(
            parse_csv_record("\"open,").expect("parses"),
            None,
            "an open quote continues"
        );
        assert_eq!(ok("\"multi\nline\",2"), vec!["multi\nline", "2"]);
        let e = parse_csv_record("ab\"c,d").expect_err("bad quote");
        assert!(e.contains("unquoted field 1"), "{e}");
        let e = parse_csv_record("\"ab\"c,d").expect_err("junk after quote");
        assert!(e.contains("after the closing quote of field 1"), "{e}");
    }
}
