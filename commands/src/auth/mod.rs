//! Authentication primitives: device request signatures (`X-MEN-Signature`) and fleetlog's JWTs.

pub mod cache;
pub mod claims;
mod ec;
pub mod jwt;
pub mod signature;

pub use jwt::{Claims, JwtAlgorithm, JwtError, JwtKeys};
pub use signature::{
    DevicePublicKey, KeyError, KeyPolicy, SignatureError, parse_public_key, parse_public_key_with,
};
