//! Walmart's client-credentials token: `POST /v3/token` with the client id and secret in a Basic
//! `Authorization` header, cached until shortly before its `expires_in` (900 s) runs out. The credentials never
//! appear in errors or logs.

use std::time::{Duration, Instant};

use channel_api::connector::ConnectorError;
use channel_api::connectors::http::{read_json, send_guarded};
use channel_api::resilience::Resilience;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::errors::classify;
use crate::headers::{SERVICE_NAME, WM_QOS_CORRELATION_ID, WM_SVC_NAME};

/// Renew at most this long before expiry.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// How long before `lifetime` runs out a token is renewed: a fifth of it, at most a minute, so a 900 s token
/// is renewed after 840 s and a short-lived one (a test sandbox's) well before it lapses.
pub fn renew_before(lifetime: Duration) -> Duration {
    (lifetime / 5).min(RENEW_BEFORE)
}

pub struct TokenCache {
    token_url: String,
    client_id: String,
    client_secret: String,
    cached: Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

impl TokenCache {
    pub fn new(token_url: String, client_id: String, client_secret: String) -> Self {
        Self {
            token_url,
            client_id,
            client_secret,
            cached: Mutex::new(None),
        }
    }

    /// The access token, from the cache or a new grant (one grant at a time: callers wait on the lock).
    pub async fn access_token(
        &self,
        http: &reqwest::Client,
        resilience: &Resilience,
    ) -> Result<String, ConnectorError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, renew_at)) = cached.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let correlation = uuid::Uuid::new_v4().to_string();
        let response = send_guarded(
            resilience,
            "getToken",
            1,
            || {
                http.post(&self.token_url)
                    .basic_auth(&self.client_id, Some(&self.client_secret))
                    .header(WM_SVC_NAME, SERVICE_NAME)
                    .header(WM_QOS_CORRELATION_ID, &correlation)
                    .header("Accept", "application/json")
                    .form(&[("grant_type", "client_credentials")])
            },
            classify,
        )
        .await
        .map_err(|e| ConnectorError {
            kind: e.kind,
            message: format!("Walmart token endpoint: {}", e.message),
        })?;
        let answer: TokenAnswer = read_json(response, "Walmart's token answer").await?;
        let lifetime = Duration::from_secs(answer.expires_in);
        let renew_at = Instant::now() + lifetime - renew_before(lifetime);
        *cached = Some((answer.access_token.clone(), renew_at));
        Ok(answer.access_token)
    }

    /// Forgets the cached token (Walmart refused it).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_margin() {
        assert_eq!(
            renew_before(Duration::from_secs(900)),
            Duration::from_secs(60)
        );
        assert_eq!(renew_before(Duration::from_secs(5)), Duration::from_secs(1));
    }
}
