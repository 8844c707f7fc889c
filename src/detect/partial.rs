//! The map-phase output: partial group state as compact JSON, merged by the reduce phase.
//! Format version [`VERSION`]; a different version is rejected with a clear message.

use super::byteset::{ByteSet, StrSet};
use super::set::ValueSet;
use super::sum::ExactSum;
use serde_json::{Value, json};

/// The version of the partial-state format. Bump it on any change to the encoding.
pub const VERSION: &str = "1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PartialError {
    #[error(
        "partial results of format version {found} cannot be merged by this aidetect (format version {VERSION}): install the same aidetect app version on the indexers and the search head"
    )]
    Version { found: String },
    #[error("malformed partial results ({0}); the map phase output was changed on its way")]
    Malformed(String),
}

pub fn malformed(what: &str) -> PartialError {
    PartialError::Malformed(what.to_string())
}

/// Byte strings as JSON: a string when UTF-8, else `{"x":"<hex>"}` so nothing is altered.
pub fn bytes_to_json(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => json!({ "x": b.iter().map(|x| format!("{x:02x}")).collect::<String>() }),
    }
}

pub fn bytes_from_json(v: &Value) -> Result<Vec<u8>, PartialError> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Object(o) => {
            let hex = o
                .get("x")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed("byte string"))?;
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
                .collect::<Result<_, _>>()
                .map_err(|_| malformed("hex bytes"))
        }
        _ => Err(malformed("byte string")),
    }
}

pub fn byte_set_to_json(set: &ByteSet) -> Value {
    Value::Array(set.iter().map(bytes_to_json).collect())
}

pub fn byte_set_from_json(v: &Value) -> Result<ByteSet, PartialError> {
    let mut set = ByteSet::new();
    for item in v.as_array().ok_or_else(|| malformed("list"))? {
        set.insert(&bytes_from_json(item)?);
    }
    Ok(set)
}

pub fn label_set_to_json(set: &StrSet) -> Value {
    Value::Array(set.iter().map(|s| Value::String(s.to_string())).collect())
}

pub fn label_set_from_json(v: &Value) -> Result<StrSet, PartialError> {
    let mut set = StrSet::new();
    for item in v.as_array().ok_or_else(|| malformed("list"))? {
        set.insert(item.as_str().ok_or_else(|| malformed("string"))?);
    }
    Ok(set)
}

pub fn string_set_to_json(set: &ValueSet<String>) -> Value {
    Value::Array(set.iter().map(|s| Value::String(s.clone())).collect())
}

pub fn string_set_from_json(v: &Value) -> Result<ValueSet<String>, PartialError> {
    v.as_array()
        .ok_or_else(|| malformed("list"))?
        .iter()
        .map(|s| {
            s.as_str()
                .map(String::from)
                .ok_or_else(|| malformed("string"))
        })
        .collect()
}

/// An optional exact sum: `null` or the partials' bit patterns.
pub fn sum_to_json(sum: &Option<ExactSum>) -> Value {
    sum.as_ref().map_or(Value::Null, |s| json!(s.to_bits()))
}

pub fn sum_from_json(v: &Value) -> Result<Option<ExactSum>, PartialError> {
    if v.is_null() {
        return Ok(None);
    }
    let bits: Vec<u64> = v
        .as_array()
        .ok_or_else(|| malformed("sum"))?
        .iter()
        .map(|b| b.as_u64().ok_or_else(|| malformed("sum bits")))
        .collect::<Result<_, _>>()?;
    ExactSum::from_bits(&bits)
        .map(Some)
        .ok_or_else(|| malformed("sum value"))
}

/// An optional number, exactly (`null` or its bit pattern).
pub fn f64_to_json(x: Option<f64>) -> Value {
    x.map_or(Value::Null, |x| json!(x.to_bits()))
}

pub fn f64_from_json(v: &Value) -> Result<Option<f64>, PartialError> {
    if v.is_null() {
        return Ok(None);
    }
    v.as_u64()
        .map(|b| Some(f64::from_bits(b)))
        .ok_or_else(|| malformed("number"))
}

pub fn u64_from_json(v: &Value) -> Result<u64, PartialError> {
    v.as_u64().ok_or_else(|| malformed("count"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_strings_round_trip_even_when_not_utf8() {
        for b in [&b"plain"[..], b"", b"\xff\xfe", "\u{0e17}t".as_bytes()] {
            assert_eq!(bytes_from_json(&bytes_to_json(b)).unwrap(), b);
        }
    }

    #[test]
    fn numbers_and_sums_round_trip_exactly() {
        for x in [Some(0.1), Some(-0.0), Some(1e300), None] {
            let back = f64_from_json(&f64_to_json(x)).unwrap();
            assert_eq!(back.map(f64::to_bits), x.map(f64::to_bits));
        }
        let mut s = ExactSum::new();
        s.add(0.1);
        s.add(1e20);
        let back = sum_from_json(&sum_to_json(&Some(s.clone())))
            .unwrap()
            .unwrap();
        assert_eq!(back.value(), s.value());
    }
}
