//! Result values → JSON.
//!
//! tokio-postgres 0.7 asks for every result column in binary format (it has no text-format
//! query API), so values are decoded here from PostgreSQL's binary wire formats:
//! integers and floats become JSON numbers; everything else becomes the string psql would
//! print, or close to it — `numeric` exactly (never through a float), JSON as its text
//! (re-parsing would lose big numbers), dates and times in ISO 8601 with `timestamptz` in
//! UTC, `bytea` as `\x…` hex (cut after [`MAX_BYTEA_SHOWN`] bytes). Arrays become nested
//! JSON arrays, ranges `[1,5)`, composite values objects, anonymous records arrays.
//! Enums, domains and `citext` read as their base; `regclass` and the other OID aliases as
//! the OID number (with a note suggesting `::text`). Types without a decoder here (`money`, geometry beyond
//! `point`, `tsvector`, …) are reported before the query runs ([`is_supported`]) and
//! their cells are `null`, with a note telling the user to cast the column to text.

use std::error::Error;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use serde_json::{Map, Number, Value};
use tokio_postgres::types::{FromSql, Kind, Type};

/// Longest `bytea` prefix rendered; the rest is summarized.
pub(crate) const MAX_BYTEA_SHOWN: usize = 64 * 1024;

/// Built-in type OIDs (stable across PostgreSQL versions).
mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const REGPROC: u32 = 24;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const TID: u32 = 27;
    pub const XID: u32 = 28;
    pub const CID: u32 = 29;
    pub const JSON: u32 = 114;
    pub const XML: u32 = 142;
    pub const POINT: u32 = 600;
    pub const CIDR: u32 = 650;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const UNKNOWN: u32 = 705;
    pub const MACADDR8: u32 = 774;
    pub const MACADDR: u32 = 829;
    pub const INET: u32 = 869;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const TIMETZ: u32 = 1266;
    pub const BIT: u32 = 1560;
    pub const VARBIT: u32 = 1562;
    pub const NUMERIC: u32 = 1700;
    pub const REGPROCEDURE: u32 = 2202;
    pub const REGOPER: u32 = 2203;
    pub const REGOPERATOR: u32 = 2204;
    pub const REGCLASS: u32 = 2205;
    pub const REGTYPE: u32 = 2206;
    pub const RECORD: u32 = 2249;
    pub const VOID: u32 = 2278;
    pub const UUID: u32 = 2950;
    pub const PG_LSN: u32 = 3220;
    pub const REGCONFIG: u32 = 3734;
    pub const REGDICTIONARY: u32 = 3769;
    pub const JSONB: u32 = 3802;
    pub const JSONPATH: u32 = 4072;
    pub const REGNAMESPACE: u32 = 4089;
    pub const REGROLE: u32 = 4096;
    pub const REGCOLLATION: u32 = 4191;
    pub const XID8: u32 = 5069;
}

/// One cell's raw binary value (`None` for SQL NULL), whatever its type.
pub(crate) struct RawCell<'a>(pub Option<&'a [u8]>);

impl<'a> FromSql<'a> for RawCell<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Self(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Self(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A value that does not parse as its type's binary format (a server or decoder bug).
#[derive(Debug)]
pub(crate) struct Malformed;

type Decoded = Result<Value, Malformed>;

/// The type's name as users write it: `int4[]` rather than `_int4`.
pub(crate) fn type_label(ty: &Type) -> String {
    match ty.kind() {
        Kind::Array(element) => format!("{}[]", element.name()),
        _ => ty.name().to_owned(),
    }
}

/// Whether values of `ty` can be decoded.
pub(crate) fn is_supported(ty: &Type) -> bool {
    if simple_oid(ty.oid()) {
        return true;
    }
    match ty.kind() {
        Kind::Enum(_) => true,
        Kind::Domain(base) | Kind::Array(base) | Kind::Range(base) => is_supported(base),
        Kind::Composite(fields) => fields.iter().all(|f| is_supported(f.type_())),
        Kind::Simple => ty.name() == "citext",
        _ => false,
    }
}

fn simple_oid(oid: u32) -> bool {
    use oid::*;
    matches!(
        oid,
        BOOL | BYTEA
            | CHAR
            | NAME
            | INT8
            | INT2
            | INT4
            | REGPROC
            | TEXT
            | OID
            | TID
            | XID
            | CID
            | JSON
            | XML
            | POINT
            | CIDR
            | FLOAT4
            | FLOAT8
            | UNKNOWN
            | MACADDR8
            | MACADDR
            | INET
            | BPCHAR
            | VARCHAR
            | DATE
            | TIME
            | TIMESTAMP
            | TIMESTAMPTZ
            | INTERVAL
            | TIMETZ
            | BIT
            | VARBIT
            | NUMERIC
            | REGPROCEDURE
            | REGOPER
            | REGOPERATOR
            | REGCLASS
            | REGTYPE
            | RECORD
            | VOID
            | UUID
            | PG_LSN
            | REGCONFIG
            | REGDICTIONARY
            | JSONB
            | JSONPATH
            | REGNAMESPACE
            | REGROLE
            | REGCOLLATION
            | XID8
    )
}

/// Whether `ty` is an OID alias (`regclass`, `regtype`…), shown as the number.
pub(crate) fn shows_as_oid(ty: &Type) -> bool {
    use oid::*;
    matches!(
        ty.oid(),
        REGPROC
            | REGPROCEDURE
            | REGOPER
            | REGOPERATOR
            | REGCLASS
            | REGTYPE
            | REGCONFIG
            | REGDICTIONARY
            | REGNAMESPACE
            | REGROLE
            | REGCOLLATION
    )
}

/// Decodes one non-NULL value of `ty`; `Ok(Null)` for unsupported types.
pub(crate) fn decode(ty: &Type, raw: &[u8]) -> Decoded {
    if simple_oid(ty.oid()) {
        return decode_builtin(ty.oid(), raw);
    }
    match ty.kind() {
        Kind::Enum(_) => text(raw),
        Kind::Domain(base) => decode(base, raw),
        Kind::Array(element) => decode_array(element, raw),
        Kind::Range(element) => decode_range(element, raw),
        Kind::Composite(fields) => {
            let types: Vec<(&str, &Type)> = fields.iter().map(|f| (f.name(), f.type_())).collect();
            decode_record(raw, Some(&types))
        }
        Kind::Simple if ty.name() == "citext" => text(raw),
        _ => Ok(Value::Null),
    }
}

fn decode_builtin(type_oid: u32, raw: &[u8]) -> Decoded {
    use oid::*;
    let mut r = Reader(raw);
    let value = match type_oid {
        BOOL => Value::Bool(r.u8()? != 0),
        INT2 => Value::from(r.i16()?),
        INT4 => Value::from(r.i32()?),
        INT8 => Value::from(r.i64()?),
        OID | XID | CID | REGPROC | REGPROCEDURE | REGOPER | REGOPERATOR | REGCLASS | REGTYPE
        | REGCONFIG | REGDICTIONARY | REGNAMESPACE | REGROLE | REGCOLLATION => {
            Value::from(r.u32()?)
        }
        XID8 => Value::from(r.u64()?),
        FLOAT4 => float(f64::from(f32::from_bits(r.u32()?))),
        FLOAT8 => float(f64::from_bits(r.u64()?)),
        NUMERIC => return numeric(raw).map(Value::String),
        TEXT | VARCHAR | BPCHAR | NAME | UNKNOWN | XML | JSON => return text(raw),
        JSONB | JSONPATH => {
            // A version byte (1), then the text.
            r.u8()?;
            return text(r.rest());
        }
        CHAR => Value::String(char::from(r.u8()?).to_string()),
        VOID => return Ok(Value::Null),
        BYTEA => return Ok(Value::String(bytea(raw))),
        UUID => return uuid(raw),
        DATE => Value::String(date(r.i32()?)),
        TIME => Value::String(time_of_day(r.i64()?)?),
        TIMETZ => {
            let micros = r.i64()?;
            // Seconds *west* of UTC.
            let west = r.i32()?;
            Value::String(format!("{}{}", time_of_day(micros)?, utc_offset(-west)))
        }
        TIMESTAMP => Value::String(timestamp(r.i64()?, false)),
        TIMESTAMPTZ => Value::String(timestamp(r.i64()?, true)),
        INTERVAL => {
            let micros = r.i64()?;
            let days = r.i32()?;
            let months = r.i32()?;
            Value::String(interval(months, days, micros))
        }
        INET | CIDR => return inet(raw),
        MACADDR | MACADDR8 => Value::String(
            r.rest()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        ),
        BIT | VARBIT => {
            let bits = usize::try_from(r.i32()?).map_err(|_| Malformed)?;
            let bytes = r.rest();
            let shown: String = (0..bits)
                .map(|i| {
                    let byte = bytes.get(i / 8).copied().unwrap_or(0);
                    if byte & (0x80 >> (i % 8)) != 0 {
                        '1'
                    } else {
                        '0'
                    }
                })
                .collect();
            return Ok(Value::String(shown));
        }
        PG_LSN => {
            let lsn = r.u64()?;
            Value::String(format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff))
        }
        TID => {
            let block = r.u32()?;
            let offset = r.u16()?;
            Value::String(format!("({block},{offset})"))
        }
        POINT => {
            let x = f64::from_bits(r.u64()?);
            let y = f64::from_bits(r.u64()?);
            Value::String(format!("({x},{y})"))
        }
        RECORD => return decode_record(raw, None),
        _ => return Ok(Value::Null),
    };
    r.finish()?;
    Ok(value)
}

fn text(raw: &[u8]) -> Decoded {
    std::str::from_utf8(raw)
        .map(|s| Value::String(s.to_owned()))
        .map_err(|_| Malformed)
}

fn float(value: f64) -> Value {
    if value.is_nan() {
        Value::String("NaN".to_owned())
    } else if value.is_infinite() {
        Value::String(if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned())
    } else {
        Number::from_f64(value).map_or(Value::Null, Value::Number)
    }
}

/// `numeric`'s binary form: digit count, weight (of the first base-10000 digit), sign,
/// display scale, then the base-10000 digits.
fn numeric(raw: &[u8]) -> Result<String, Malformed> {
    let mut r = Reader(raw);
    let ndigits = usize::try_from(r.i16()?).map_err(|_| Malformed)?;
    let weight = i32::from(r.i16()?);
    let sign = r.u16()?;
    let dscale = usize::from(r.u16()?);
    let digits = (0..ndigits)
        .map(|_| r.i16())
        .collect::<Result<Vec<_>, _>>()?;
    r.finish()?;
    match sign {
        0xC000 => return Ok("NaN".to_owned()),
        0xD000 => return Ok("Infinity".to_owned()),
        0xF000 => return Ok("-Infinity".to_owned()),
        0x0000 | 0x4000 => {}
        _ => return Err(Malformed),
    }
    let digit = |index: i32| -> i16 {
        usize::try_from(index)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for index in 0..=weight {
            if index == 0 {
                out.push_str(&digit(index).to_string());
            } else {
                out.push_str(&format!("{:04}", digit(index)));
            }
        }
    }
    if dscale > 0 {
        let mut fraction = String::new();
        let mut index = weight + 1;
        while fraction.len() < dscale {
            fraction.push_str(&format!("{:04}", digit(index)));
            index += 1;
        }
        fraction.truncate(dscale);
        out.push('.');
        out.push_str(&fraction);
    }
    Ok(out)
}

fn bytea(raw: &[u8]) -> String {
    let shown = &raw[..raw.len().min(MAX_BYTEA_SHOWN)];
    let mut out = String::with_capacity(2 + shown.len() * 2);
    out.push_str("\\x");
    for byte in shown {
        out.push_str(&format!("{byte:02x}"));
    }
    if raw.len() > shown.len() {
        out.push_str(&format!("… ({} bytes in all)", raw.len()));
    }
    out
}

fn uuid(raw: &[u8]) -> Decoded {
    if raw.len() != 16 {
        return Err(Malformed);
    }
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Value::String(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )))
}

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".to_owned(),
        i32::MIN => "-infinity".to_owned(),
        _ => epoch()
            .date()
            .checked_add_signed(TimeDelta::days(i64::from(days)))
            .map_or_else(|| format!("{days} days from 2000-01-01"), |d| d.to_string()),
    }
}

fn timestamp(micros: i64, utc: bool) -> String {
    match micros {
        i64::MAX => return "infinity".to_owned(),
        i64::MIN => return "-infinity".to_owned(),
        _ => {}
    }
    let Some(at) = epoch().checked_add_signed(TimeDelta::microseconds(micros)) else {
        return format!("{micros} µs from 2000-01-01");
    };
    if utc {
        DateTime::<chrono::Utc>::from_naive_utc_and_offset(at, chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.fZ")
            .to_string()
    } else {
        at.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
    }
}

fn time_of_day(micros: i64) -> Result<String, Malformed> {
    if micros == 86_400_000_000 {
        return Ok("24:00:00".to_owned());
    }
    let seconds = u32::try_from(micros.div_euclid(1_000_000)).map_err(|_| Malformed)?;
    let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1000).map_err(|_| Malformed)?;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(seconds, nanos).ok_or(Malformed)?;
    Ok(time.format("%H:%M:%S%.f").to_string())
}

fn utc_offset(east_seconds: i32) -> String {
    let sign = if east_seconds < 0 { '-' } else { '+' };
    let abs = east_seconds.unsigned_abs();
    let (hours, minutes, seconds) = (abs / 3600, abs / 60 % 60, abs % 60);
    match (minutes, seconds) {
        (0, 0) => format!("{sign}{hours:02}"),
        (_, 0) => format!("{sign}{hours:02}:{minutes:02}"),
        _ => format!("{sign}{hours:02}:{minutes:02}:{seconds:02}"),
    }
}

/// PostgreSQL's default interval style: `1 year 2 mons 3 days 04:05:06.5`.
fn interval(months: i32, days: i32, micros: i64) -> String {
    let mut parts = Vec::new();
    let plural = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let (years, months) = (months / 12, months % 12);
    if years != 0 {
        parts.push(plural(i64::from(years), "year", "years"));
    }
    if months != 0 {
        parts.push(plural(i64::from(months), "mon", "mons"));
    }
    if days != 0 {
        parts.push(plural(i64::from(days), "day", "days"));
    }
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 { "-" } else { "" };
        let abs = micros.unsigned_abs();
        let seconds = abs / 1_000_000;
        let fraction = abs % 1_000_000;
        let mut clock = format!(
            "{sign}{:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        );
        if fraction != 0 {
            let digits = format!("{fraction:06}");
            clock.push('.');
            clock.push_str(digits.trim_end_matches('0'));
        }
        parts.push(clock);
    }
    parts.join(" ")
}

fn inet(raw: &[u8]) -> Decoded {
    let mut r = Reader(raw);
    let family = r.u8()?;
    let bits = r.u8()?;
    let _is_cidr = r.u8()?;
    let len = usize::from(r.u8()?);
    let address = r.take(len)?;
    r.finish()?;
    let (ip, full): (std::net::IpAddr, u8) = match (family, address) {
        (2, [a, b, c, d]) => (std::net::Ipv4Addr::new(*a, *b, *c, *d).into(), 32),
        (3, bytes) if bytes.len() == 16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(bytes);
            (std::net::Ipv6Addr::from(octets).into(), 128)
        }
        _ => return Err(Malformed),
    };
    Ok(Value::String(if bits == full {
        ip.to_string()
    } else {
        format!("{ip}/{bits}")
    }))
}

/// Array binary form: dimensions, a has-nulls flag, the element OID, (length, lower bound)
/// per dimension, then each element as a length (-1 for NULL) and bytes.
fn decode_array(element: &Type, raw: &[u8]) -> Decoded {
    let mut r = Reader(raw);
    let ndim = usize::try_from(r.i32()?).map_err(|_| Malformed)?;
    let _has_nulls = r.i32()?;
    let _element_oid = r.u32()?;
    let mut lengths = Vec::with_capacity(ndim);
    for _ in 0..ndim {
        lengths.push(usize::try_from(r.i32()?).map_err(|_| Malformed)?);
        let _lower_bound = r.i32()?;
    }
    let values = if ndim == 0 {
        Value::Array(Vec::new())
    } else {
        nest(element, &mut r, &lengths)?
    };
    r.finish()?;
    Ok(values)
}

fn nest(element: &Type, r: &mut Reader<'_>, lengths: &[usize]) -> Decoded {
    let Some((&count, inner)) = lengths.split_first() else {
        return Err(Malformed);
    };
    let mut items = Vec::with_capacity(count.min(4096));
    for _ in 0..count {
        items.push(if inner.is_empty() {
            match r.nullable()? {
                None => Value::Null,
                Some(bytes) => decode(element, bytes)?,
            }
        } else {
            nest(element, r, inner)?
        });
    }
    Ok(Value::Array(items))
}

/// Range binary form: flags, then the lower and upper bounds (each a length and bytes)
/// unless infinite. Rendered as PostgreSQL prints ranges: `[1,5)`, `(,10]`, `empty`.
fn decode_range(element: &Type, raw: &[u8]) -> Decoded {
    const EMPTY: u8 = 0x01;
    const LOWER_INCLUSIVE: u8 = 0x02;
    const UPPER_INCLUSIVE: u8 = 0x04;
    const LOWER_INFINITE: u8 = 0x08;
    const UPPER_INFINITE: u8 = 0x10;
    let mut r = Reader(raw);
    let flags = r.u8()?;
    if flags & EMPTY != 0 {
        r.finish()?;
        return Ok(Value::String("empty".to_owned()));
    }
    let mut bound = |infinite: u8| -> Result<String, Malformed> {
        if flags & infinite != 0 {
            return Ok(String::new());
        }
        let bytes = r.nullable()?.ok_or(Malformed)?;
        Ok(match decode(element, bytes)? {
            Value::String(text) if text.contains([',', ' ', '(', ')', '[', ']', '"']) => {
                format!("\"{}\"", text.replace('"', "\\\""))
            }
            Value::String(text) => text,
            other => other.to_string(),
        })
    };
    let lower = bound(LOWER_INFINITE)?;
    let upper = bound(UPPER_INFINITE)?;
    r.finish()?;
    let open = if flags & LOWER_INCLUSIVE != 0 {
        '['
    } else {
        '('
    };
    let close = if flags & UPPER_INCLUSIVE != 0 {
        ']'
    } else {
        ')'
    };
    Ok(Value::String(format!("{open}{lower},{upper}{close}")))
}

/// Record binary form: field count, then per field its type OID, length (-1 for NULL) and
/// bytes. With `fields` (a named composite) the result is an object, otherwise (an
/// anonymous `ROW(…)`) an array decoded by each field's built-in OID.
fn decode_record(raw: &[u8], fields: Option<&[(&str, &Type)]>) -> Decoded {
    let mut r = Reader(raw);
    let count = usize::try_from(r.i32()?).map_err(|_| Malformed)?;
    let mut object = Map::new();
    let mut array = Vec::new();
    for index in 0..count {
        let field_oid = r.u32()?;
        let bytes = r.nullable()?;
        let field_type = match fields {
            Some(fields) => Some(fields.get(index).ok_or(Malformed)?.1.clone()),
            None => Type::from_oid(field_oid),
        };
        let value = match (bytes, field_type) {
            (None, _) | (_, None) => Value::Null,
            (Some(bytes), Some(ty)) => decode(&ty, bytes)?,
        };
        match fields {
            Some(fields) => {
                object.insert(fields[index].0.to_owned(), value);
            }
            None => array.push(value),
        }
    }
    r.finish()?;
    Ok(match fields {
        Some(_) => Value::Object(object),
        None => Value::Array(array),
    })
}

/// A big-endian cursor over a binary value.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        self.take(N)?.try_into().map_err(|_| Malformed)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, Malformed> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn i16(&mut self) -> Result<i16, Malformed> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, Malformed> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A length-prefixed value; length -1 is NULL.
    fn nullable(&mut self) -> Result<Option<&'a [u8]>, Malformed> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| Malformed)?;
        self.take(len).map(Some)
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }

    fn finish(&self) -> Result<(), Malformed> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Malformed)
        }
    }
}

/// Approximate size of `value` as JSON text, for the byte cap.
pub(crate) fn json_size(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => s.len() + 2,
        Value::Array(items) => 2 + items.iter().map(|v| json_size(v) + 1).sum::<usize>(),
        Value::Object(map) => {
            2 + map
                .iter()
                .map(|(k, v)| k.len() + 4 + json_size(v))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;
