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

use serde_json::{Map, Value};
use tokio_postgres::types::{FromSql, Kind, Type};

use super::scalars::*;

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

pub(super) type Decoded = Result<Value, Malformed>;

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
