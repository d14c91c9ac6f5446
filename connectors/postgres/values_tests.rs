//! Tests of `values.rs`.

use serde_json::json;

use super::*;

fn numeric_bytes(ndigits: i16, weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(ndigits.to_be_bytes());
    out.extend(weight.to_be_bytes());
    out.extend(sign.to_be_bytes());
    out.extend(dscale.to_be_bytes());
    for d in digits {
        out.extend(d.to_be_bytes());
    }
    out
}

#[test]
fn numerics_are_rendered_exactly() {
    let n = |nd, w, s, sc, d: &[i16]| numeric(&numeric_bytes(nd, w, s, sc, d)).expect("ok");
    assert_eq!(n(2, 0, 0, 2, &[12, 3400]), "12.34");
    assert_eq!(n(1, 1, 0, 0, &[1]), "10000");
    assert_eq!(n(1, -1, 0x4000, 5, &[50]), "-0.00500");
    assert_eq!(n(0, 0, 0, 3, &[]), "0.000");
    assert_eq!(n(3, 2, 0, 0, &[1, 2, 3]), "100020003");
    assert_eq!(n(0, 0, 0xC000, 0, &[]), "NaN");
    assert_eq!(
        n(5, 4, 0, 4, &[9999, 9999, 9999, 9999, 9999]),
        "99999999999999999999.0000"
    );
}

#[test]
fn intervals_and_times_read_like_psql() {
    assert_eq!(
        interval(14, 3, 14_706_500_000),
        "1 year 2 mons 3 days 04:05:06.5"
    );
    assert_eq!(interval(0, 0, 0), "00:00:00");
    assert_eq!(interval(0, -1, -3_600_000_000), "-1 days -01:00:00");
    assert_eq!(time_of_day(45_296_000_001).expect("ok"), "12:34:56.000001");
    assert_eq!(utc_offset(19_800), "+05:30");
    assert_eq!(utc_offset(-3600), "-01");
}

#[test]
fn dates_and_timestamps_count_from_2000() {
    assert_eq!(date(0), "2000-01-01");
    assert_eq!(date(-1), "1999-12-31");
    assert_eq!(date(i32::MAX), "infinity");
    assert_eq!(timestamp(1_500_000, true), "2000-01-01T00:00:01.500Z");
    assert_eq!(timestamp(0, false), "2000-01-01T00:00:00");
}

#[test]
fn arrays_nest_by_dimension_and_keep_nulls() {
    let mut raw = Vec::new();
    for v in [2i32, 1] {
        raw.extend(v.to_be_bytes()); // ndim 2, has nulls
    }
    raw.extend(23u32.to_be_bytes());
    for (len, lower) in [(2i32, 1i32), (2, 1)] {
        raw.extend(len.to_be_bytes());
        raw.extend(lower.to_be_bytes());
    }
    for v in [Some(1i32), None, Some(3), Some(4)] {
        match v {
            Some(v) => {
                raw.extend(4i32.to_be_bytes());
                raw.extend(v.to_be_bytes());
            }
            None => raw.extend((-1i32).to_be_bytes()),
        }
    }
    assert_eq!(
        decode_array(&Type::INT4, &raw).expect("ok"),
        json!([[1, null], [3, 4]])
    );
}

#[test]
fn bytea_is_hex_and_cut() {
    assert_eq!(bytea(&[0xde, 0xad]), "\\xdead");
    let long = vec![0u8; MAX_BYTEA_SHOWN + 1];
    assert!(bytea(&long).ends_with(&format!("… ({} bytes in all)", MAX_BYTEA_SHOWN + 1)));
}

#[test]
fn malformed_values_are_refused_not_guessed() {
    assert!(decode_builtin(oid::INT4, &[0, 1]).is_err());
    assert!(decode_builtin(oid::INT2, &[0, 1, 2]).is_err());
    assert!(uuid(&[1, 2, 3]).is_err());
}
