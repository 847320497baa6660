//! Login with Amazon: the refresh-token grant, its access token kept in the shared
//! [`TokenCache`](channel_api::auth::TokenCache) (renewed shortly before it expires, one grant at a time). The
//! credentials never appear in errors or logs.

use channel_api::auth::{AccessToken, Grant, TokenCache};
use channel_api::connector::ConnectorError;
use channel_api::connectors::http::{HttpAnswer, transport_error};
use reqwest::StatusCode;
use serde::Deserialize;

pub struct Lwa {
    token_url: String,
    client_id: String,
    client_secret: String,
    refresh_token: String,
    cache: TokenCache,
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
            cache: TokenCache::new(),
        }
    }

    /// Runs `call` with the access token; when SP-API refuses it (403, how it answers an expired or revoked
    /// token), logs in again and runs `call` once more.
    pub async fn authorized<T, K, KF>(
        &self,
        http: &reqwest::Client,
        call: K,
    ) -> Result<T, ConnectorError>
    where
        K: Fn(AccessToken) -> KF,
        KF: Future<Output = Result<T, ConnectorError>>,
    {
        self.cache
            .authorized(|| self.grant(http), StatusCode::FORBIDDEN, call)
            .await
    }

    /// One refresh-token grant.
    async fn grant(&self, http: &reqwest::Client) -> Result<Grant, ConnectorError> {
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
            .map_err(|e| transport_error(e).context("LWA token endpoint"))?;
        let answer = HttpAnswer::read(response).await;
        let status = answer.status;
        if !status.is_success() {
            let reason = serde_json::from_str::<TokenError>(&answer.body)
                .map(|e| format!("{}: {}", e.error, e.error_description))
                .unwrap_or_else(|_| status.to_string());
            let message = format!("LWA refused the refresh-token grant ({status}): {reason}");
            let error = if status.is_server_error() || status.as_u16() == 429 {
                ConnectorError::retryable(message)
            } else {
                ConnectorError::permanent(message)
            };
            return Err(error.with_http(answer.failure()));
        }
        serde_json::from_str::<Grant>(&answer.body).map_err(|e| {
            ConnectorError::retryable(format!("LWA token endpoint answered without a token: {e}"))
                .with_source(e)
        })
    }
}
