//! Signed webhooks: HMAC-SHA256 over `<timestamp>.<body>`, the scheme of the ERP webhook source and the B2B
//! portal's order webhook. The timestamp is in the signature, so a captured request cannot be replayed once
//! it is older than the tolerance; the comparison is constant-time.
//!
//! Headers: `X-Tradewind-Timestamp: <unix seconds>` and `X-Tradewind-Signature: sha256=<lower-case hex>`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

pub const TIMESTAMP_HEADER: &str = "x-tradewind-timestamp";
pub const SIGNATURE_HEADER: &str = "x-tradewind-signature";
/// How far a request's timestamp may be from now, either way, by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

type HmacSha256 = Hmac<Sha256>;

/// Why a signed request was refused. The messages name the header and never echo the key or the signature.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("header {TIMESTAMP_HEADER} is missing")]
    MissingTimestamp,
    #[error("header {TIMESTAMP_HEADER} is not a Unix time in seconds (value: {0:?})")]
    BadTimestamp(String),
    #[error(
        "header {TIMESTAMP_HEADER} is {age_seconds} s away from now, more than the {tolerance_seconds} s allowed (replayed or clock skew)"
    )]
    Stale {
        age_seconds: i64,
        tolerance_seconds: u64,
    },
    #[error("header {SIGNATURE_HEADER} is missing")]
    MissingSignature,
    #[error("header {SIGNATURE_HEADER} is not `sha256=<hex>`")]
    BadSignatureFormat,
    #[error("header {SIGNATURE_HEADER} does not match the body and timestamp")]
    Mismatch,
}

/// The `X-Tradewind-Signature` value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = mac(key);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a request's timestamp and signature headers against `body`, at `now`.
pub fn verify(
    key: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?.trim();
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp(timestamp.chars().take(40).collect()))?;
    let age = now.timestamp().saturating_sub(seconds);
    let tolerance_seconds = tolerance.as_secs();
    if age.unsigned_abs() > tolerance_seconds {
        return Err(SignatureError::Stale {
            age_seconds: age,
            tolerance_seconds,
        });
    }
    let signature = signature.ok_or(SignatureError::MissingSignature)?.trim();
    let digest = signature
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::BadSignatureFormat)?;
    let mut mac = mac(key);
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&digest)
        .map_err(|_| SignatureError::Mismatch)
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let ts = now().timestamp();
        let sig = sign(b"key", ts, b"{\"a\":1}");
        let check = |body: &[u8], key: &[u8]| {
            verify(
                key,
                Some(&ts.to_string()),
                Some(&sig),
                body,
                now(),
                DEFAULT_TOLERANCE,
            )
        };
        assert_eq!(check(b"{\"a\":1}", b"key"), Ok(()));
        assert_eq!(check(b"{\"a\":2}", b"key"), Err(SignatureError::Mismatch));
        assert_eq!(check(b"{\"a\":1}", b"other"), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_stale_timestamp_is_refused_even_with_a_valid_signature() {
        let ts = now().timestamp() - 301;
        let sig = sign(b"key", ts, b"x");
        let result = verify(
            b"key",
            Some(&ts.to_string()),
            Some(&sig),
            b"x",
            now(),
            DEFAULT_TOLERANCE,
        );
        assert_eq!(
            result,
            Err(SignatureError::Stale {
                age_seconds: 301,
                tolerance_seconds: 300
            })
        );
    }

    #[test]
    fn malformed_headers_are_named() {
        let v = |ts: Option<&str>, sig: Option<&str>| {
            verify(b"k", ts, sig, b"", now(), DEFAULT_TOLERANCE)
        };
        let ts = now().timestamp().to_string();
        assert_eq!(
            v(None, Some("sha256=00")),
            Err(SignatureError::MissingTimestamp)
        );
        assert!(matches!(
            v(Some("yesterday"), None),
            Err(SignatureError::BadTimestamp(_))
        ));
        assert_eq!(v(Some(&ts), None), Err(SignatureError::MissingSignature));
        assert_eq!(
            v(Some(&ts), Some("md5=00")),
            Err(SignatureError::BadSignatureFormat)
        );
        assert_eq!(
            v(Some(&ts), Some("sha256=zz")),
            Err(SignatureError::BadSignatureFormat)
        );
    }
}
