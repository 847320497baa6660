//! Login with Amazon: the refresh-token grant, its access token cached until shortly before it expires. The
//! credentials never appear in errors or logs.

use std::time::{Duration, Instant};

use channel_api::connector::ConnectorError;
use channel_api::connectors::http::without_url;
use serde::Deserialize;
use tokio::sync::Mutex;

/// A token is renewed this long before Amazon says it expires, so no call carries an expired one.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

pub struct Lwa {
    token_url: String,
    client_id: String,
    client_secret: String,
    refresh_token: String,
    cached: Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: String,
}

impl Lwa {
    pub fn new(
        token_url: String,
        client_id: String,
        client_secret: String,
        refresh_token: String,
    ) -> Self {
        Self {
            token_url,
            client_id,
            client_secret,
            refresh_token,
            cached: Mutex::new(None),
        }
    }

    /// The access token, from the cache or a new grant.
    pub async fn access_token(&self, http: &reqwest::Client) -> Result<String, ConnectorError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && Instant::now() + RENEW_BEFORE < *expires
        {
            return Ok(token.clone());
        }
        let response = http
            .post(&self.token_url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", self.refresh_token.as_str()),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
            ])
            .send()
            .await
            .map_err(|e| {
                ConnectorError::retryable(format!("LWA token endpoint: {}", without_url(&e)))
            })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            let reason = serde_json::from_str::<TokenError>(&body)
                .map(|e| format!("{}: {}", e.error, e.error_description))
                .unwrap_or_else(|_| status.to_string());
            let message = format!("LWA refused the refresh-token grant ({status}): {reason}");
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                ConnectorError::retryable(message)
            } else {
                ConnectorError::permanent(message)
            });
        }
        let answer: TokenAnswer = serde_json::from_str(&body).map_err(|e| {
            ConnectorError::retryable(format!("LWA token endpoint answered without a token: {e}"))
        })?;
        let expires = Instant::now() + Duration::from_secs(answer.expires_in);
        *cached = Some((answer.access_token.clone(), expires));
        Ok(answer.access_token)
    }

    /// Forgets the cached token (Amazon refused it).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}
