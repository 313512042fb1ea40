//! JSON values as MessagePack, and fluentd's EventTime (MessagePack extension 0).
//! Written with `rmp`'s low-level encoders: the values are serde_json's, so no
//! intermediate representation is built.

use rmp::encode;
use serde_json::Value;

/// Appends one value.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    // Writing into a Vec cannot fail; the results are ignored for that reason.
    match v {
        Value::Null => {
            let _ = encode::write_nil(out);
        }
        Value::Bool(b) => {
            let _ = encode::write_bool(out, *b);
        }
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                let _ = encode::write_uint(out, u);
            } else if let Some(i) = n.as_i64() {
                let _ = encode::write_sint(out, i);
            } else {
                let _ = encode::write_f64(out, n.as_f64().unwrap_or(0.0));
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(list) => {
            let _ = encode::write_array_len(out, list.len() as u32);
            for x in list {
                write_value(out, x);
            }
        }
        Value::Object(map) => {
            let _ = encode::write_map_len(out, map.len() as u32);
            for (k, x) in map {
                write_str(out, k);
                write_value(out, x);
            }
        }
    }
}

pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = encode::write_str(out, s);
}

/// fluentd's EventTime: seconds and nanoseconds, big-endian, in extension type 0.
pub fn write_event_time(out: &mut Vec<u8>, ns: i64) {
    let secs = ns.div_euclid(1_000_000_000).clamp(0, u32::MAX as i64) as u32;
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    let _ = encode::write_ext_meta(out, 8, 0);
    out.extend_from_slice(&secs.to_be_bytes());
    out.extend_from_slice(&nanos.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_a_decoder() {
        let v = serde_json::json!({"a": [1, -2, 3.5, null, true], "b": {"c": "d"}, "big": u64::MAX});
        let mut out = Vec::new();
        write_value(&mut out, &v);
        let back = rmpv::decode::read_value(&mut &out[..]).unwrap();
        assert_eq!(back["a"][1].as_i64(), Some(-2));
        assert_eq!(back["a"][2].as_f64(), Some(3.5));
        assert_eq!(back["b"]["c"].as_str(), Some("d"));
        assert_eq!(back["big"].as_u64(), Some(u64::MAX));
        let mut t = Vec::new();
        write_event_time(&mut t, 1_700_000_000_123_456_789);
        assert_eq!(t[..2], [0xd7, 0x00], "fixext 8, type 0");
        assert_eq!(u32::from_be_bytes(t[2..6].try_into().unwrap()), 1_700_000_000);
        assert_eq!(u32::from_be_bytes(t[6..10].try_into().unwrap()), 123_456_789);
    }
}
