//! Input records as a mapper sees them, and the streams that read them from a split of a DFS
//! file in each input format (text lines, CSV with a header, fixed-length, binary records).

use crate::error::{MrError, MrResult};
use crate::fields::{decode_value, Value};
use crate::ifile;
use crate::input::{
    fixed_split_read_from, line_split_read_from, parse_csv_record, FixedSplit, LineSplit,
};
use crate::key::Key;
use client::reader::DfsReader;
use client::DfsClient;
use common::jobs::InputFormat;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};

/// One input record.
#[derive(Debug)]
pub struct Record<'a> {
    /// Which of the stage's inputs it came from (in the order they were declared).
    pub input: usize,
    /// Byte offset in its file (for binary records: the record's number).
    pub offset: u64,
    data: RecordData<'a>,
}

#[derive(Debug)]
enum RecordData<'a> {
    Bytes(&'a [u8]),
    Csv {
        columns: &'a Columns,
        fields: Result<&'a [String], &'a str>,
        raw: &'a [u8],
    },
    Binary {
        key: &'a [u8],
        value: &'a [u8],
    },
}

/// The header of a CSV file: column names and where each is.
#[derive(Debug, Default)]
pub struct Columns {
    pub names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Columns {
    fn new(names: Vec<String>) -> Self {
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.trim().to_string(), i))
            .collect();
        Columns { names, index }
    }

    /// Position of a column.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
}

impl<'a> Record<'a> {
    /// The record's bytes: a text line (no newline), a CSV record's text, a fixed-length
    /// record, or a binary record's value.
    pub fn bytes(&self) -> &'a [u8] {
        match self.data {
            RecordData::Bytes(b) => b,
            RecordData::Csv { raw, .. } => raw,
            RecordData::Binary { value, .. } => value,
        }
    }

    /// The record as UTF-8 text; an error names the offset when it is not.
    pub fn line(&self) -> MrResult<&'a str> {
        std::str::from_utf8(self.bytes()).map_err(|e| {
            MrError::User(format!(
                "record at offset {} is not UTF-8: {e}",
                self.offset
            ))
        })
    }

    /// The record as text, invalid UTF-8 replaced.
    pub fn line_lossy(&self) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.bytes())
    }

    /// A CSV record's fields, or why the record is malformed (bad quoting, a column count
    /// that differs from the header's).
    pub fn fields(&self) -> Result<&'a [String], String> {
        match &self.data {
            RecordData::Csv { fields, .. } => fields.map_err(str::to_string),
            _ => Err("not a CSV record".into()),
        }
    }

    /// The CSV file's header.
    pub fn columns(&self) -> Option<&'a Columns> {
        match &self.data {
            RecordData::Csv { columns, .. } => Some(columns),
            _ => None,
        }
    }

    /// The field of a CSV record in the column `name`.
    pub fn field(&self, name: &str) -> MrResult<&'a str> {
        let RecordData::Csv {
            columns, fields, ..
        } = &self.data
        else {
            return Err(MrError::User(format!(
                "field {name:?} asked of a record that is not CSV"
            )));
        };
        let fields = fields.map_err(|e| {
            MrError::User(format!(
                "malformed CSV record at offset {}: {e}",
                self.offset
            ))
        })?;
        let i = columns.position(name).ok_or_else(|| {
            MrError::User(format!(
                "no column {name:?} (the header has {})",
                columns.names.join(",")
            ))
        })?;
        Ok(fields[i].as_str())
    }

    /// A binary record's key and value, decoded.
    pub fn decode<K: Key, V: Value>(&self) -> MrResult<(K, V)> {
        let RecordData::Binary { key, value } = self.data else {
            return Err(MrError::User(
                "decode asked of a record that is not from a binary record file".into(),
            ));
        };
        let mut k = key;
        Ok((K::decode(&mut k)?, decode_value(value)?))
    }

    /// A binary record's encoded key.
    pub fn raw_key(&self) -> &'a [u8] {
        match self.data {
            RecordData::Binary { key, .. } => key,
            _ => &[],
        }
    }
}

/// A split's records, one at a time.
pub(crate) trait RecordStream {
    fn next_record(&mut self) -> MrResult<Option<Record<'_>>>;
    /// Fraction of the split read.
    fn progress(&self) -> f32;
    /// Bytes read so far.
    fn bytes_read(&self) -> u64;
    /// Where the stream is, for errors: `path at offset N`.
    fn position(&self) -> String;
}

/// Opens `[start, start + len)` of `path` as records of `format`.
pub(crate) fn open_stream(
    dfs: &DfsClient,
    format: &InputFormat,
    input: usize,
    path: &str,
    start: u64,
    len: u64,
) -> MrResult<Box<dyn RecordStream>> {
    let end = start + len;
    if let InputFormat::Range { .. } = format {
        return Ok(Box::new(RangeStream {
            input,
            next: start,
            start,
            end,
        }));
    }
    let open_at = |pos: u64| -> MrResult<BufReader<DfsReader>> {
        let mut r = dfs.open(path)?;
        r.seek_to(pos);
        Ok(BufReader::with_capacity(1 << 20, r))
    };
    let at = Place {
        input,
        start,
        len,
        last: start,
        path: path.to_string(),
    };
    let lines = || -> MrResult<LineSplit<BufReader<DfsReader>>> {
        Ok(LineSplit::new(
            open_at(line_split_read_from(start))?,
            start,
            end,
            path,
        ))
    };
    Ok(match format {
        InputFormat::Text => Box::new(TextStream {
            split: lines()?,
            at,
        }),
        InputFormat::Csv => {
            let mut split = lines()?;
            // The header is the file's first line: this split's first, or read apart.
            let header = if start == 0 {
                split
                    .next_line()?
                    .map(|(_, l)| String::from_utf8_lossy(l).into_owned())
                    .unwrap_or_default()
            } else {
                let mut first = String::new();
                open_at(0)?
                    .read_line(&mut first)
                    .map_err(|e| MrError::Transfer(format!("{path}: {e}")))?;
                first.trim_end_matches(['\n', '\r']).to_string()
            };
            Box::new(CsvStream {
                split,
                at,
                columns: header_columns(path, &header)?,
                text: String::new(),
                fields: Vec::new(),
                error: String::new(),
                pending: None,
            })
        }
        InputFormat::Fixed { record_len } => Box::new(FixedStream {
            split: FixedSplit::new(
                open_at(fixed_split_read_from(start, *record_len))?,
                start,
                end,
                *record_len as usize,
                path,
            ),
            at,
        }),
        InputFormat::Range { .. } => unreachable!("handled above"),
        InputFormat::Binary => Box::new(BinaryStream {
            reader: ifile::Reader::new(open_at(0)?, path),
            input,
            n: 0,
            len,
            path: path.to_string(),
        }),
    })
}

fn header_columns(path: &str, line: &str) -> MrResult<Columns> {
    match parse_csv_record(line) {
        Ok(Some(names)) => Ok(Columns::new(names)),
        Ok(None) => Err(MrError::User(format!(
            "{path}: the CSV header has an unclosed quote"
        ))),
        Err(e) => Err(MrError::User(format!("{path}: bad CSV header: {e}"))),
    }
}

fn fraction(done: u64, len: u64) -> f32 {
    if len == 0 {
        1.0
    } else {
        (done as f64 / len as f64).min(1.0) as f32
    }
}

/// Where a stream over a byte range of a file is.
struct Place {
    input: usize,
    start: u64,
    len: u64,
    /// Offset of the last record handed out.
    last: u64,
    path: String,
}

impl Place {
    fn record<'a>(&mut self, offset: u64, data: RecordData<'a>) -> Record<'a> {
        self.last = offset;
        Record {
            input: self.input,
            offset,
            data,
        }
    }
    fn progress(&self) -> f32 {
        fraction(self.last.saturating_sub(self.start), self.len)
    }
    fn position(&self) -> String {
        format!("{} at offset {}", self.path, self.last)
    }
}

struct TextStream {
    split: LineSplit<BufReader<DfsReader>>,
    at: Place,
}

impl RecordStream for TextStream {
    fn next_record(&mut self) -> MrResult<Option<Record<'_>>> {
        Ok(match self.split.next_line()? {
            Some((offset, line)) => Some(self.at.record(offset, RecordData::Bytes(line))),
            None => None,
        })
    }
    fn progress(&self) -> f32 {
        self.at.progress()
    }
    fn bytes_read(&self) -> u64 {
        self.split.consumed_to().saturating_sub(self.at.start)
    }
    fn position(&self) -> String {
        self.at.position()
    }
}

/// CSV records; a quoted field may span lines. A record whose column count differs from the
/// header's is handed to the mapper as malformed rather than failing the task.
struct CsvStream {
    split: LineSplit<BufReader<DfsReader>>,
    at: Place,
    columns: Columns,
    text: String,
    fields: Vec<String>,
    error: String,
    /// A line read ahead while looking for an open quote's end, and its offset.
    pending: Option<(u64, String)>,
}

/// The longest a CSV record spanning lines may grow.
const MAX_CSV_RECORD: usize = 1 << 20;

impl RecordStream for CsvStream {
    fn next_record(&mut self) -> MrResult<Option<Record<'_>>> {
        loop {
            let offset = match self.pending.take() {
                Some((offset, text)) => {
                    self.text = text;
                    offset
                }
                None => {
                    let Some((offset, line)) = self.split.next_line()? else {
                        return Ok(None);
                    };
                    self.text.clear();
                    self.text.push_str(&String::from_utf8_lossy(line));
                    offset
                }
            };
            let mut parsed = parse_csv_record(&self.text);
            // An open quote: the record goes on over the next lines, unless the next line is
            // a whole record by itself (then the quote was a mistake of this row's, and one bad
            // row must not swallow the good ones after it) or the record grows past reason.
            while let Ok(None) = parsed {
                let Some((next_offset, more)) = self.split.next_line()? else {
                    parsed = Err("unclosed quote at the end of the file".into());
                    break;
                };
                let more = String::from_utf8_lossy(more).into_owned();
                let whole = matches!(parse_csv_record(&more),
                    Ok(Some(f)) if f.len() == self.columns.names.len());
                if whole || self.text.len() + more.len() > MAX_CSV_RECORD {
                    self.pending = Some((next_offset, more));
                    parsed = Err(if whole {
                        "unclosed quote (the next line is a record of its own)".into()
                    } else {
                        format!("unclosed quote: a record longer than {MAX_CSV_RECORD} bytes")
                    });
                    break;
                }
                self.text.push('\n');
                self.text.push_str(&more);
                parsed = parse_csv_record(&self.text);
            }
            let columns = &self.columns;
            let ok = match parsed {
                Ok(Some(fields)) if fields.len() == columns.names.len() => {
                    self.fields = fields;
                    true
                }
                Ok(Some(fields)) => {
                    self.error = format!(
                        "{} fields where the header has {}",
                        fields.len(),
                        columns.names.len()
                    );
                    false
                }
                Ok(None) => unreachable!("loop above ends open quotes"),
                Err(e) => {
                    self.error = e;
                    false
                }
            };
            if self.text.is_empty() {
                continue; // blank line
            }
            let data = RecordData::Csv {
                columns,
                fields: if ok {
                    Ok(&self.fields)
                } else {
                    Err(&self.error)
                },
                raw: self.text.as_bytes(),
            };
            return Ok(Some(self.at.record(offset, data)));
        }
    }
    fn progress(&self) -> f32 {
        self.at.progress()
    }
    fn bytes_read(&self) -> u64 {
        self.split.consumed_to().saturating_sub(self.at.start)
    }
    fn position(&self) -> String {
        self.at.position()
    }
}

struct FixedStream {
    split: FixedSplit<BufReader<DfsReader>>,
    at: Place,
}

impl RecordStream for FixedStream {
    fn next_record(&mut self) -> MrResult<Option<Record<'_>>> {
        Ok(match self.split.next_record()? {
            Some((offset, rec)) => Some(self.at.record(offset, RecordData::Bytes(rec))),
            None => None,
        })
    }
    fn progress(&self) -> f32 {
        self.at.progress()
    }
    fn bytes_read(&self) -> u64 {
        self.at.last.saturating_sub(self.at.start)
    }
    fn position(&self) -> String {
        self.at.position()
    }
}

struct BinaryStream {
    reader: ifile::Reader<BufReader<DfsReader>>,
    input: usize,
    n: u64,
    len: u64,
    path: String,
}

impl RecordStream for BinaryStream {
    fn next_record(&mut self) -> MrResult<Option<Record<'_>>> {
        if !self.reader.advance()? {
            return Ok(None);
        }
        self.n += 1;
        Ok(Some(Record {
            input: self.input,
            offset: self.n - 1,
            data: RecordData::Binary {
                key: self.reader.key(),
                value: self.reader.value(),
            },
        }))
    }
    fn progress(&self) -> f32 {
        // Records, not bytes, are counted here; the map's end says 1.0.
        0.5
    }
    fn bytes_read(&self) -> u64 {
        self.len
    }
    fn position(&self) -> String {
        format!("{} at record {}", self.path, self.n)
    }
}

/// Row numbers of a range input.
struct RangeStream {
    input: usize,
    next: u64,
    start: u64,
    end: u64,
}

impl RecordStream for RangeStream {
    fn next_record(&mut self) -> MrResult<Option<Record<'_>>> {
        if self.next >= self.end {
            return Ok(None);
        }
        self.next += 1;
        Ok(Some(Record {
            input: self.input,
            offset: self.next - 1,
            data: RecordData::Bytes(&[]),
        }))
    }
    fn progress(&self) -> f32 {
        fraction(self.next - self.start, self.end - self.start)
    }
    fn bytes_read(&self) -> u64 {
        0
    }
    fn position(&self) -> String {
        format!("row {}", self.next.saturating_sub(1))
    }
}
