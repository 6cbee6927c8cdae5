//! The attribute index: one key per (scope, attribute, value, device), ordered so that an
//! equality is a prefix scan and a comparison a range scan.
//!
//! Key: `x/<tenant>/<scope>/` + name length (u16, big-endian) + name + value + device id.
//! Value: numbers are `0x01` + 8 bytes that sort like the f64; text is `0x02` + the bytes with
//! NUL escaped as `00 FF`, then `00 01` (so "a" sorts before "a\0…" and before "ab").
//! A list value gets one key per element.
//! Device ids in the canonical UUID form fleetlog gives devices are stored as `0x00` + their 16
//! bytes (19 bytes less in each of a device's ~30 keys); other ids as their text, which never
//! starts with `0x00` (ids are subject tokens, printable).

use std::borrow::Cow;

use fleetlog_events::inventory::{AttrValue, Scalar};

const NUMBER: u8 = 0x01;
const TEXT: u8 = 0x02;
const UUID_ID: u8 = 0x00;

/// Where the hyphens of a canonical UUID are.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// The 16 bytes of a UUID in canonical lowercase form, the only form whose text they give back.
fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    let s = id.as_bytes();
    if s.len() != 36 || HYPHENS.iter().any(|&i| s[i] != b'-') {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut digits = s.iter().enumerate().filter(|(i, _)| !HYPHENS.contains(i)).map(|(_, c)| nibble(*c));
    let mut out = [0u8; 16];
    for byte in &mut out {
        *byte = (digits.next()?? << 4) | digits.next()??;
    }
    Some(out)
}

fn uuid_text(b: &[u8]) -> String {
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if [4, 6, 8, 10].contains(&i) {
            out.push('-');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn push_device(k: &mut Vec<u8>, device: &str) {
    match uuid_bytes(device) {
        Some(b) => {
            k.push(UUID_ID);
            k.extend_from_slice(&b);
        }
        None => k.extend_from_slice(device.as_bytes()),
    }
}

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
    push_device(&mut k, device);
    k
}

/// The full key of one device's value in a tree of model version 4 or before, whose ids are
/// all text: what a query asks while such a tree serves during its rebuild.
pub fn text_id_entry_key(tenant: &str, scope: &str, name: &str, v: &Scalar, device: &str) -> Vec<u8> {
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

/// The device id at the end of a key whose attribute prefix is `prefix_len` bytes long, and
/// where it starts in the key (the end of the value).
pub fn device_of(key: &[u8], prefix_len: usize) -> Option<(usize, Cow<'_, str>)> {
    let rest = key.get(prefix_len..)?;
    let value_len = match *rest.first()? {
        NUMBER => 9,
        TEXT => {
            let mut i = 1;
            loop {
                match (rest.get(i)?, rest.get(i + 1)?) {
                    (0, 1) => break i + 2,
                    (0, _) => i += 2,
                    _ => i += 1,
                }
            }
        }
        _ => return None,
    };
    let id = rest.get(value_len..)?;
    let id = match id.split_first() {
        Some((&UUID_ID, b)) if b.len() == 16 => Cow::Owned(uuid_text(b)),
        _ => Cow::Borrowed(std::str::from_utf8(id).ok()?),
    };
    Some((prefix_len + value_len, id))
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
            assert_eq!(device_of(k, plen).map(|d| d.1), Some("dev".into()));
        }
        assert_eq!(device_of(&key(Scalar::Number(3.0)), plen).map(|d| d.1), Some("dev".into()));
    }

    #[test]
    fn uuid_ids_take_16_bytes_keep_their_order_and_read_back() {
        let ids = [
            "0190a5e0-0000-7000-8000-000000000001",
            "0190a5e0-0000-7000-8000-00000000000a",
            "f0000000-0000-4000-8000-000000000000",
        ];
        let plen = attribute_prefix("t", "inventory", "a").len();
        let keys: Vec<Vec<u8>> =
            ids.iter().map(|id| entry_key("t", "inventory", "a", &Scalar::Number(1.0), id)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "UUID bytes sort as their text");
        for (k, id) in keys.iter().zip(ids) {
            assert_eq!(k.len(), plen + 9 + 17);
            assert_eq!(device_of(k, plen), Some((plen + 9, id.into())));
        }
        // Any other form is kept as text, so it reads back exactly as given.
        for id in ["0190A5E0-0000-7000-8000-000000000001", "0190a5e0000070008000000000000001", "d1"] {
            let k = entry_key("t", "inventory", "a", &Scalar::Text("x".into()), id);
            assert!(k.ends_with(id.as_bytes()));
            assert_eq!(device_of(&k, plen).map(|d| d.1), Some(id.into()));
        }
    }

    #[test]
    fn an_exact_value_prefix_does_not_match_a_longer_value() {
        let a = value_prefix("t", "inventory", "a", &Scalar::Text("a".into()));
        assert!(!key(Scalar::Text("ab".into())).starts_with(&a));
        assert!(!key(Scalar::Text("a\0".into())).starts_with(&a));
        assert!(key(Scalar::Text("a".into())).starts_with(&a));
    }

    #[test]
    fn a_tree_of_the_text_id_shape_is_read_right_while_it_serves() {
        use crate::ReadModel;
        use crate::inventory::{InventoryQueries, ValueRange};

        let id = "0190a5e0-0000-7000-8000-000000000001";
        let v = Scalar::Text("x".into());
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        tree.insert(text_id_entry_key("t", "inventory", "a", &v, id), vec![]).unwrap();
        let old = ReadModel::new("inventory", tree.clone(), 4, 0);
        let q = InventoryQueries(&old);
        assert!(q.has("t", "inventory", "a", &v, id).unwrap());
        assert_eq!(q.matching("t", "inventory", "a", &ValueRange::Exact(v.clone())).unwrap(), [id]);
        // The same bytes read as the current shape would be a miss: the shape decides the key.
        assert!(
            !InventoryQueries(&ReadModel::new("inventory", tree, 5, 0))
                .has("t", "inventory", "a", &v, id)
                .unwrap()
        );
    }
}
