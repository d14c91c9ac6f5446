//! PostgreSQL's binary wire formats of single values (text, floats, `numeric`, `bytea`,
//! `uuid`, dates and times, intervals, `inet`), and the byte reader the decoders share.
//! `values.rs` dispatches to these by type.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use serde_json::{Number, Value};

use super::values::{Decoded, MAX_BYTEA_SHOWN, Malformed};

pub(super) fn text(raw: &[u8]) -> Decoded {
    std::str::from_utf8(raw)
        .map(|s| Value::String(s.to_owned()))
        .map_err(|_| Malformed)
}

pub(super) fn float(value: f64) -> Value {
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
pub(super) fn numeric(raw: &[u8]) -> Result<String, Malformed> {
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

pub(super) fn bytea(raw: &[u8]) -> String {
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

pub(super) fn uuid(raw: &[u8]) -> Decoded {
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

pub(super) fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

pub(super) fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".to_owned(),
        i32::MIN => "-infinity".to_owned(),
        _ => epoch()
            .date()
            .checked_add_signed(TimeDelta::days(i64::from(days)))
            .map_or_else(|| format!("{days} days from 2000-01-01"), |d| d.to_string()),
    }
}

pub(super) fn timestamp(micros: i64, utc: bool) -> String {
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

pub(super) fn time_of_day(micros: i64) -> Result<String, Malformed> {
    if micros == 86_400_000_000 {
        return Ok("24:00:00".to_owned());
    }
    let seconds = u32::try_from(micros.div_euclid(1_000_000)).map_err(|_| Malformed)?;
    let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1000).map_err(|_| Malformed)?;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(seconds, nanos).ok_or(Malformed)?;
    Ok(time.format("%H:%M:%S%.f").to_string())
}

pub(super) fn utc_offset(east_seconds: i32) -> String {
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
pub(super) fn interval(months: i32, days: i32, micros: i64) -> String {
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

pub(super) fn inet(raw: &[u8]) -> Decoded {
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

/// A big-endian cursor over a binary value.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        self.take(N)?.try_into().map_err(|_| Malformed)
    }

    pub(super) fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, Malformed> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(super) fn i16(&mut self) -> Result<i16, Malformed> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(super) fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(super) fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(super) fn i64(&mut self) -> Result<i64, Malformed> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A length-prefixed value; length -1 is NULL.
    pub(super) fn nullable(&mut self) -> Result<Option<&'a [u8]>, Malformed> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| Malformed)?;
        self.take(len).map(Some)
    }

    pub(super) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }

    pub(super) fn finish(&self) -> Result<(), Malformed> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Malformed)
        }
    }
}
