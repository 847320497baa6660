//! Walmart's client-credentials token: `POST /v3/token` with the client id and secret in a Basic
//! `Authorization` header, kept in the shared [`TokenCache`] (renewed shortly before its `expires_in`, 900 s,
//! runs out; one grant at a time). The credentials never appear in errors or logs.

use channel_api::auth::{AccessToken, Grant, TokenCache};
use channel_api::connector::ConnectorError;
use channel_api::connectors::http::{read_json, send_guarded};
use channel_api::resilience::Resilience;
use reqwest::StatusCode;

use crate::errors::classify;
use crate::headers::{SERVICE_NAME, WM_QOS_CORRELATION_ID, WM_SVC_NAME};

pub struct ClientCredentials {
    token_url: String,
    client_id: String,
    client_secret: String,
    cache: TokenCache,
}

impl ClientCredentials {
    pub fn new(token_url: String, client_id: String, client_secret: String) -> Self {
        Self {
            token_url,
            client_id,
            client_secret,
            cache: TokenCache::new(),
        }
    }

    /// Runs `call` with the access token; when Walmart refuses it (401: a token can be revoked before it
    /// expires), gets a new one and runs `call` once more.
    pub async fn authorized<T, K, KF>(
        &self,
        http: &reqwest::Client,
        resilience: &Resilience,
        call: K,
    ) -> Result<T, ConnectorError>
    where
        K: Fn(AccessToken) -> KF,
        KF: Future<Output = Result<T, ConnectorError>>,
    {
        self.cache
            .authorized(
                || self.grant(http, resilience),
                StatusCode::UNAUTHORIZED,
                call,
            )
            .await
    }

    /// One client-credentials grant, through the `getToken` guard.
    async fn grant(
        &self,
        http: &reqwest::Client,
        resilience: &Resilience,
    ) -> Result<Grant, ConnectorError> {
        let response = send_guarded(
            resilience,
            "getToken",
            1,
            || {
                http.post(&self.token_url)
                    .basic_auth(&self.client_id, Some(&self.client_secret))
                    .header(WM_SVC_NAME, SERVICE_NAME)
                    // A fresh GUID per attempt: the specification asks for one per call.
                    .header(WM_QOS_CORRELATION_ID, uuid::Uuid::new_v4().to_string())
                    .header("Accept", "application/json")
                    .form(&[("grant_type", "client_credentials")])
            },
            classify,
        )
        .await
        .map_err(|e| e.context("Walmart token endpoint"))?;
        read_json(response, "Walmart's token answer").await
    }
}
