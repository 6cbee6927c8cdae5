//! The attribute index: one key per (scope, attribute, value, device), ordered so that an
//! equality is a prefix scan and a comparison a range scan.
//!
//! Key: `x/<tenant>/<scope>/` + name length (u16, big-endian) + name + value + device id.
//! Value: numbers are `0x01` + 8 bytes that sort like the f64; text is `0x02` + the bytes with
//! NUL escaped as `00 FF`, then `00 01` (so "a" sorts before "a\0…" and before "ab").
//! A list value gets one key per element.

use fleetlog_events::inventory::{AttrValue, Scalar};

const NUMBER: u8 = 0x01;
const TEXT: u8 = 0x02;

/// Prefix of every key of one attribute.
pub fn attribute_prefix(tenant: &str, scope: &str, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() + scope.len() + name.len() + 8);
    k.extend_from_slice(b"x/");
    k.extend_from_slice(tenant.as_bytes());
    k.push(b'/');
    k.extend_from_slice(scope.as_bytes());
    k.push(b'/');
    // Names are at most 1024 characters (checked at the API), so they fit a u16.
    let len = u16::try_from(name.len()).unwrap_or(u16::MAX);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    k
}

/// Appends a scalar's sortable encoding.
pub fn encode_scalar(out: &mut Vec<u8>, v: &Scalar) {
    match v {
        Scalar::Number(n) => {
            out.push(NUMBER);
            let bits = n.to_bits();
            // Flip so that the bytes sort like the numbers: negatives reversed, sign bit set
            // for positives.
            let ordered = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
            out.extend_from_slice(&ordered.to_be_bytes());
        }
        Scalar::Text(s) => {
            out.push(TEXT);
            for &b in s.as_bytes() {
                out.push(b);
                if b == 0 {
                    out.push(0xFF);
                }
            }
            out.extend_from_slice(&[0, 1]);
        }
    }
}

/// The scalars a value is indexed under.
pub fn scalars(v: &AttrValue) -> Vec<Scalar> {
    match v {
        AttrValue::Text(s) => vec![Scalar::Text(s.clone())],
        AttrValue::Number(n) => vec![Scalar::Number(*n)],
        AttrValue::List(items) => items.clone(),
    }
}

/// Prefix of the keys of one exact value.
pub fn value_prefix(tenant: &str, scope: &str, name: &str, v: &Scalar) -> Vec<u8> {
    let mut k = attribute_prefix(tenant, scope, name);
    encode_scalar(&mut k, v);
    k
}

/// The full key of one device's value.
pub fn entry_key(tenant: &str, scope: &str, name: &str, v: &Scalar, device: &str) -> Vec<u8> {
    let mut k = value_prefix(tenant, scope, name, v);
    k.extend_from_slice(device.as_bytes());
    k
}

/// The first key after every key of the numbers (`NUMBER` block) or texts (`TEXT` block) of
/// an attribute: the end of a range scan that stays within one type.
pub fn type_end(prefix: &[u8], number: bool) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.push(if number { NUMBER + 1 } else { TEXT + 1 });
    k
}

/// The first key of a type's block.
pub fn type_start(prefix: &[u8], number: bool) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.push(if number { NUMBER } else { TEXT });
    k
}

/// The device id at the end of a key whose attribute prefix is `prefix_len` bytes long.
pub fn device_of(key: &[u8], prefix_len: usize) -> Option<&str> {
    let rest = key.get(prefix_len..)?;
    let id = match *rest.first()? {
        NUMBER => rest.get(9..)?,
        TEXT => {
            let mut i = 1;
            loop {
                match (rest.get(i)?, rest.get(i + 1)?) {
                    (0, 1) => break rest.get(i + 2..)?,
                    (0, _) => i += 2,
                    _ => i += 1,
                }
            }
        }
        _ => return None,
    };
    std::str::from_utf8(id).ok()
}

/// The end of a value-exact scan (after `prefix`): `prefix` with its last byte incremented
/// is not needed since every value encoding is self-delimiting; this returns the exclusive
/// upper bound of all keys starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xFF: no upper bound short of the end; callers use an unbounded range then.
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(v: Scalar) -> Vec<u8> {
        entry_key("t", "inventory", "a", &v, "dev")
    }

    #[test]
    fn keys_sort_like_values_and_give_back_the_device() {
        let numbers = [-1e9, -2.5, -0.0, 0.0, 1.0, 2.5, 1e12];
        let keys: Vec<Vec<u8>> = numbers.iter().map(|n| key(Scalar::Number(*n))).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        let texts = ["", "a", "a\0b", "ab", "b"];
        let keys: Vec<Vec<u8>> = texts.iter().map(|t| key(Scalar::Text((*t).into()))).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        let plen = attribute_prefix("t", "inventory", "a").len();
        for k in &keys {
            assert_eq!(device_of(k, plen), Some("dev"));
        }
        assert_eq!(device_of(&key(Scalar::Number(3.0)), plen), Some("dev"));
    }

    #[test]
    fn an_exact_value_prefix_does_not_match_a_longer_value() {
        let a = value_prefix("t", "inventory", "a", &Scalar::Text("a".into()));
        assert!(!key(Scalar::Text("ab".into())).starts_with(&a));
        assert!(!key(Scalar::Text("a\0".into())).starts_with(&a));
        assert!(key(Scalar::Text("a".into())).starts_with(&a));
    }
}
