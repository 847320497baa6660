//! One cache for OAuth access tokens, shared by every connector that logs in (Amazon's LWA refresh-token
//! grant, Walmart's client credentials, eBay's refresh-token grant):
//!
//! - a token is used until shortly before it expires (a fifth of its lifetime early, at most a minute), then
//!   fetched again;
//! - **single flight**: concurrent callers for one credential wait for the one fetch in progress and share its
//!   token, or its failure, instead of each asking the token endpoint (eBay asks clients to reuse a token);
//! - a token the API refused (401) is invalidated, so the next call fetches a new one, without discarding a
//!   newer token another caller fetched meanwhile;
//! - `expires_in` is read defensively: a negative, zero or unreadable value is refused with an error naming
//!   it, and an absurdly large one is capped at [`MAX_LIFETIME`], so nothing the server says can panic the
//!   adapter or pin a token forever.
//!
//! The token endpoint call itself stays with the connector (each channel has its own grant and error body);
//! the cache only decides when to call it. Tokens never appear in `Debug` output, logs or errors.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::error::{ConnectorError, FailureKind};
use crate::resilience::{Clock, TokioClock};

/// The longest a token is kept, whatever the server says.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// At most this long before its expiry a token is renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// An access token. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// A token endpoint's answer (RFC 6749 section 5.1): the token and its lifetime in seconds, as the server wrote
/// it (read by [`Grant::lifetime`]).
#[derive(Clone, Deserialize)]
pub struct Grant {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Value,
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl Grant {
    pub fn new(access_token: impl Into<String>, expires_in: u64) -> Self {
        Self {
            access_token: access_token.into(),
            expires_in: Value::from(expires_in),
        }
    }

    /// How long the token may be used: `expires_in` seconds, capped at [`MAX_LIFETIME`]. Integers of any size,
    /// decimals and numeric strings are read; a missing, non-numeric, zero or negative value is an error naming
    /// the value (a server that says so cannot be trusted with a cached token).
    pub fn lifetime(&self) -> Result<Duration, String> {
        let refuse = || {
            format!(
                "the token endpoint answered expires_in {}, not a positive number of seconds",
                self.expires_in
            )
        };
        let seconds: f64 = match &self.expires_in {
            Value::Number(n) => n.as_f64().ok_or_else(refuse)?,
            Value::String(s) => s.trim().parse().map_err(|_| refuse())?,
            _ => return Err(refuse()),
        };
        if !seconds.is_finite() || seconds <= 0.0 {
            return Err(refuse());
        }
        let cap = MAX_LIFETIME.as_secs_f64();
        Ok(Duration::from_secs_f64(seconds.min(cap)))
    }
}

/// How long before its expiry a token of `lifetime` is renewed: a fifth of the lifetime, at most a minute, so
/// a one-hour token is renewed after 59 minutes and a short-lived one (a sandbox's) well before it lapses.
pub fn renew_before(lifetime: Duration) -> Duration {
    (lifetime / 5).min(RENEW_BEFORE)
}

struct Slot {
    /// The token and when it is renewed.
    token: Option<(AccessToken, Instant)>,
    /// The last fetch's failure and its number (in completion order), for the callers that waited for it.
    failure: Option<(u64, ConnectorError)>,
}

/// The cached token of one credential. See the module's documentation.
pub struct TokenCache<C: Clock = TokioClock> {
    slot: Mutex<Slot>,
    /// Fetches completed so far: a caller remembers it before waiting, to know whether a fetch ended while it
    /// waited.
    fetches: AtomicU64,
    clock: C,
}

impl Default for TokenCache<TokioClock> {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenCache<TokioClock> {
    pub fn new() -> Self {
        Self::with_clock(TokioClock)
    }
}

impl<C: Clock> TokenCache<C> {
    pub fn with_clock(clock: C) -> Self {
        Self {
            slot: Mutex::new(Slot {
                token: None,
                failure: None,
            }),
            fetches: AtomicU64::new(0),
            clock,
        }
    }

    /// The cached token, or the one `fetch` gets when there is none or it is due for renewal. Callers that
    /// arrive while a fetch is in progress wait for it and share its token, or its failure.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<AccessToken, ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Grant, ConnectorError>>,
    {
        let fetches_before = self.fetches.load(Ordering::Acquire);
        let mut slot = self.slot.lock().await;
        if let Some((token, renew_at)) = &slot.token
            && self.clock.now() < *renew_at
        {
            return Ok(token.clone());
        }
        if let Some((fetch_no, failure)) = &slot.failure
            && *fetch_no > fetches_before
        {
            // The fetch this caller waited for failed: the same answer, without asking again at once.
            return Err(failure.clone());
        }
        let fetched = fetch()
            .await
            .and_then(|grant| Ok((grant.lifetime().map_err(ConnectorError::retryable)?, grant)));
        let fetch_no = self.fetches.fetch_add(1, Ordering::AcqRel) + 1;
        match fetched {
            Ok((lifetime, grant)) => {
                let token = AccessToken(grant.access_token.into());
                let now = self.clock.now();
                let renew_at = now
                    .checked_add(lifetime - renew_before(lifetime))
                    .unwrap_or(now);
                slot.token = Some((token.clone(), renew_at));
                slot.failure = None;
                Ok(token)
            }
            Err(e) => {
                slot.token = None;
                slot.failure = Some((fetch_no, e.clone()));
                Err(e)
            }
        }
    }

    /// Runs `call` with the token. When the API refuses the token (answers `refused`, 401 for most APIs), the
    /// token is invalidated and `call` runs once more with a new one: a token revoked before its expiry costs
    /// one extra call, not a dead letter. A fresh token refused again is a credentials problem, not the
    /// record's: the failure is retryable (records wait for the credentials to be fixed). The call's guard
    /// should not retry `refused` itself (classify it as permanent): retrying with the same token cannot help.
    pub async fn authorized<T, G, GF, K, KF>(
        &self,
        fetch: G,
        refused: StatusCode,
        call: K,
    ) -> Result<T, ConnectorError>
    where
        G: Fn() -> GF,
        GF: Future<Output = Result<Grant, ConnectorError>>,
        K: Fn(AccessToken) -> KF,
        KF: Future<Output = Result<T, ConnectorError>>,
    {
        let token = self.get(&fetch).await?;
        match call(token.clone()).await {
            Err(e) if e.is_status(refused) => {
                self.invalidate(&token).await;
                let token = self.get(&fetch).await?;
                call(token).await.map_err(|mut e| {
                    if e.is_status(refused) {
                        e.kind = FailureKind::Retryable;
                        e.context("a freshly issued access token was refused")
                    } else {
                        e
                    }
                })
            }
            other => other,
        }
    }

    /// Forgets `refused` (the API answered 401 with it), so that the next [`TokenCache::get`] fetches a new
    /// token. A newer token, fetched by another caller meanwhile, is kept.
    pub async fn invalidate(&self, refused: &AccessToken) {
        let mut slot = self.slot.lock().await;
        if slot
            .token
            .as_ref()
            .is_some_and(|(token, _)| token == refused)
        {
            slot.token = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grant(expires_in: Value) -> Grant {
        Grant {
            access_token: "t".into(),
            expires_in,
        }
    }

    #[test]
    fn lifetimes_are_read_and_capped_and_nonsense_refused() {
        assert_eq!(grant(json!(3600)).lifetime(), Ok(Duration::from_secs(3600)));
        assert_eq!(grant(json!("900")).lifetime(), Ok(Duration::from_secs(900)));
        assert_eq!(
            grant(json!(1.5)).lifetime(),
            Ok(Duration::from_millis(1500))
        );
        for absurd in [
            json!(u64::MAX),
            json!(1e300),
            json!("99999999999999999999999"),
        ] {
            assert_eq!(grant(absurd).lifetime(), Ok(MAX_LIFETIME));
        }
        for nonsense in [json!(-5), json!(0), json!(null), json!("soon"), json!([1])] {
            let error = grant(nonsense.clone()).lifetime().unwrap_err();
            assert!(error.contains(&format!("expires_in {nonsense}")), "{error}");
        }
    }

    #[test]
    fn tokens_do_not_show_in_debug_output() {
        let token = AccessToken("secret-token".into());
        assert!(!format!("{token:?}").contains("secret"));
        let grant = Grant::new("secret-token", 60);
        assert!(!format!("{grant:?}").contains("secret"));
    }

    #[test]
    fn renewal_margin_is_a_fifth_at_most_a_minute() {
        assert_eq!(
            renew_before(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
        assert_eq!(renew_before(Duration::from_secs(5)), Duration::from_secs(1));
    }
}
