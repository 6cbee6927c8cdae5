//! Reading a JSON request body: within a time limit, and with an object where the handler
//! expects one (serde's derived structs also accept an array of their fields in order, so a
//! body like `[1]` would otherwise read as `{"page": 1}`).

use std::time::Duration;

use serde::de::{DeserializeOwned, Deserializer, Visitor};

use super::ApiError;

/// How long a client may take to send a JSON body (uploads have their own idle timeout).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads the whole body, or 408 when the client is too slow (it holds a connection and a task).
pub async fn read<S: Send + Sync>(req: axum::extract::Request, state: &S) -> Result<bytes::Bytes, ApiError> {
    use axum::extract::FromRequest;
    let read = axum::body::Bytes::from_request(req, state);
    match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Err(_) => Err(ApiError::Timeout("request body not received in time".into())),
        Ok(Err(e)) if e.status() == 413 => Err(ApiError::TooLarge),
        Ok(Err(e)) => Err(ApiError::BadRequest(e.body_text())),
        Ok(Ok(body)) => Ok(body),
    }
}

/// A whole request body read within [`BODY_READ_TIMEOUT`] (for handlers that need the raw
/// bytes, such as a signed device auth request).
pub struct TimedBytes(pub bytes::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for TimedBytes {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        read(req, state).await.map(TimedBytes)
    }
}

/// Decodes `body` as `T`; a struct must come as a JSON object.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = T::deserialize(ObjectForStruct(&mut de))?;
    de.end()?;
    Ok(value)
}

/// Forwards to serde_json, except that a struct is read as a map (an object) only.
struct ObjectForStruct<'a, 'de>(&'a mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>);

macro_rules! forward {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.0.$method(visitor)
        })*
    };
}

impl<'de> Deserializer<'de> for ObjectForStruct<'_, 'de> {
    type Error = serde_json::Error;

    forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32 deserialize_f64
        deserialize_char deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map deserialize_identifier
        deserialize_ignored_any deserialize_i128 deserialize_u128
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_newtype_struct(name, v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple(len, v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple_struct(name, len, v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Search {
        #[serde(default)]
        page: Option<usize>,
    }

    #[test]
    fn a_struct_needs_an_object() {
        assert_eq!(decode::<Search>(br#"{"page": 2}"#).unwrap(), Search { page: Some(2) });
        assert!(decode::<Search>(b"[1]").is_err());
        assert!(decode::<Search>(b"[]").is_err());
    }

    #[test]
    fn other_shapes_read_as_before() {
        assert_eq!(decode::<Vec<String>>(br#"["a"]"#).unwrap(), vec!["a".to_owned()]);
        assert_eq!(decode::<Option<u8>>(b"null").unwrap(), None);
        assert!(decode::<Search>(br#"{"page": 1} x"#).is_err());
    }
}
