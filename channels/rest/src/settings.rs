//! What the connector makes of a `rest` Marketplace: `spec.endpoint.baseUrl` and `spec.rest` resolved into URLs,
//! methods, the batch size, the credential header and how orders arrive. Pure: the credential values are passed
//! in, read from the mounted Secret by the caller. Every error names the field and its value (never a secret).

use crds::channel::Flow;
use crds::v1alpha1::{MarketplaceSpec, RestCall, RestMethod};

/// Most records in one call when `spec.rest.batchSize` is unset.
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// Where order updates (the ERP's acknowledgements and cancellations) go: `spec.rest` has no field for them.
pub const ORDER_UPDATES_PATH: &str = "/orders/updates";
/// Where pushed orders are received, on the adapter's HTTP server.
pub const WEBHOOK_PATH: &str = "/hooks/orders";

/// One resolved portal call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub method: reqwest::Method,
    pub url: String,
}

/// The credential header, with its value.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub name: reqwest::header::HeaderName,
    pub value: reqwest::header::HeaderValue,
}

impl std::fmt::Debug for AuthHeader {
    // The value is a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthHeader")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// How orders reach the adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrdersMode {
    /// `GET <url>?<cursor_param>=<cursor>`.
    Poll { url: String, cursor_param: String },
    /// Pushed to the adapter's signed webhook; nothing is polled.
    Webhook {
        /// Key of the HMAC key in the credentials Secret.
        secret_key: String,
        max_skew_seconds: u32,
    },
}

/// Which Secret keys the settings need: the credential header's and the webhook's HMAC key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretKeys {
    pub auth: Option<String>,
    pub webhook: Option<String>,
}

/// The resolved settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortalSettings {
    pub inventory: Call,
    pub price: Call,
    pub catalog: Call,
    pub shipments: Call,
    pub order_updates: Call,
    pub batch_size: usize,
    pub auth: Option<AuthHeader>,
    pub orders: OrdersMode,
}

impl PortalSettings {
    /// The call of an outbound flow (order updates for `Flow::Orders`).
    pub fn call(&self, flow: Flow) -> Option<&Call> {
        match flow {
            Flow::Inventory => Some(&self.inventory),
            Flow::Price => Some(&self.price),
            Flow::Catalog => Some(&self.catalog),
            Flow::Shipments => Some(&self.shipments),
            Flow::Orders => Some(&self.order_updates),
            _ => None,
        }
    }
}

/// The Secret keys `spec` reads, so the caller can read just those.
pub fn secret_keys(spec: &MarketplaceSpec) -> SecretKeys {
    let rest = spec.rest.as_ref();
    SecretKeys {
        auth: rest
            .and_then(|r| r.auth.as_ref())
            .map(|a| a.secret_key.clone()),
        webhook: rest
            .and_then(|r| r.orders.as_ref())
            .and_then(|o| o.webhook.as_ref())
            .map(|w| w.hmac_secret_key.clone()),
    }
}

/// Resolves `spec` with the credential header's value `auth_value` (read from the Secret key
/// `spec.rest.auth.secretKey`, `None` when there is no `spec.rest.auth`).
pub fn resolve(spec: &MarketplaceSpec, auth_value: Option<&str>) -> Result<PortalSettings, String> {
    let base = base_url(spec.endpoint.base_url.as_deref())?;
    let rest = spec.rest.clone().unwrap_or_default();
    let call = |field: &str, configured: Option<&RestCall>, default_path: &str| {
        resolve_call(&base, field, configured, default_path)
    };
    let batch_size = match rest.batch_size {
        None => DEFAULT_BATCH_SIZE,
        Some(n @ 1..=10_000) => n as usize,
        Some(n) => {
            return Err(format!(
                "spec.rest.batchSize: {n} is out of range (1 to 10000)"
            ));
        }
    };
    let auth = match (&rest.auth, auth_value) {
        (None, _) => None,
        (Some(auth), Some(value)) => {
            let name =
                reqwest::header::HeaderName::from_bytes(auth.header.as_bytes()).map_err(|_| {
                    format!(
                        "spec.rest.auth.header: {:?} is not an HTTP header name",
                        auth.header
                    )
                })?;
            let text = format!("{}{}", auth.prefix.as_deref().unwrap_or_default(), value);
            let mut value = reqwest::header::HeaderValue::from_str(&text).map_err(|_| {
                format!(
                    "credentials Secret key {:?} (spec.rest.auth.secretKey) holds characters an HTTP header cannot carry",
                    auth.secret_key
                )
            })?;
            value.set_sensitive(true);
            Some(AuthHeader { name, value })
        }
        (Some(auth), None) => {
            return Err(format!(
                "spec.rest.auth.secretKey: credentials Secret key {:?} is missing or empty",
                auth.secret_key
            ));
        }
    };
    let orders = match rest.orders.as_ref().map(|o| (&o.poll, &o.webhook)) {
        None => OrdersMode::Poll {
            url: format!("{base}/orders"),
            cursor_param: "cursor".into(),
        },
        Some((Some(poll), None)) => {
            check_path("spec.rest.orders.poll.path", &poll.path)?;
            if poll.cursor_param.is_empty()
                || !poll
                    .cursor_param
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            {
                return Err(format!(
                    "spec.rest.orders.poll.cursorParam: {:?} is not a query parameter name (letters, digits, _ . -)",
                    poll.cursor_param
                ));
            }
            OrdersMode::Poll {
                url: format!("{base}{}", poll.path),
                cursor_param: poll.cursor_param.clone(),
            }
        }
        Some((None, Some(webhook))) => {
            if !(1..=3600).contains(&webhook.max_skew_seconds) {
                return Err(format!(
                    "spec.rest.orders.webhook.maxSkewSeconds: {} is out of range (1 to 3600)",
                    webhook.max_skew_seconds
                ));
            }
            OrdersMode::Webhook {
                secret_key: webhook.hmac_secret_key.clone(),
                max_skew_seconds: webhook.max_skew_seconds,
            }
        }
        Some(_) => {
            return Err("spec.rest.orders must set exactly one of poll, webhook".into());
        }
    };
    Ok(PortalSettings {
        inventory: call("inventory", rest.inventory.as_ref(), "/inventory")?,
        price: call("price", rest.price.as_ref(), "/price")?,
        catalog: call("catalog", rest.catalog.as_ref(), "/catalog")?,
        shipments: call("shipments", rest.shipments.as_ref(), "/shipments")?,
        order_updates: Call {
            method: reqwest::Method::POST,
            url: format!("{base}{ORDER_UPDATES_PATH}"),
        },
        batch_size,
        auth,
        orders,
    })
}

/// `spec.endpoint.baseUrl` without its trailing `/`.
fn base_url(base: Option<&str>) -> Result<String, String> {
    let base =
        base.ok_or("spec.endpoint.baseUrl is required for a rest marketplace (the portal's URL)")?;
    let valid = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(['?', '#', ' ']));
    if !valid {
        return Err(format!(
            "spec.endpoint.baseUrl: {base:?} is not an http(s) URL without query or fragment"
        ));
    }
    Ok(base.trim_end_matches('/').to_string())
}

fn check_path(field: &str, path: &str) -> Result<(), String> {
    if !path.starts_with('/') || path.contains(['?', '#']) || path.contains(char::is_whitespace) {
        return Err(format!(
            "{field}: {path:?} must start with / and hold no query, fragment or space"
        ));
    }
    Ok(())
}

fn resolve_call(
    base: &str,
    field: &str,
    configured: Option<&RestCall>,
    default_path: &str,
) -> Result<Call, String> {
    let Some(call) = configured else {
        return Ok(Call {
            method: reqwest::Method::POST,
            url: format!("{base}{default_path}"),
        });
    };
    check_path(&format!("spec.rest.{field}.path"), &call.path)?;
    let method = match call.method {
        RestMethod::Post => reqwest::Method::POST,
        RestMethod::Put => reqwest::Method::PUT,
        RestMethod::Patch => reqwest::Method::PATCH,
    };
    Ok(Call {
        method,
        url: format!("{base}{}", call.path),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn spec(rest: serde_json::Value, base: &str) -> MarketplaceSpec {
        serde_json::from_value(json!({
            "channel": "rest",
            "endpoint": {"baseUrl": base},
            "credentialsSecretRef": {"name": "c"},
            "erpConnectionRef": {"name": "e"},
            "channelMappingRef": {"name": "m"},
            "rateLimitPolicyRef": {"name": "r"},
            "currency": "EUR",
            "flows": {"inventory": {}},
            "rest": rest,
        }))
        .unwrap()
    }

    #[test]
    fn defaults_post_to_the_flow_names_and_poll_orders() {
        let s = resolve(&spec(json!({}), "https://portal.example/api/"), None).unwrap();
        assert_eq!(s.inventory.url, "https://portal.example/api/inventory");
        assert_eq!(s.inventory.method, reqwest::Method::POST);
        assert_eq!(s.shipments.url, "https://portal.example/api/shipments");
        assert_eq!(s.batch_size, DEFAULT_BATCH_SIZE);
        assert_eq!(s.auth, None);
        assert_eq!(
            s.orders,
            OrdersMode::Poll {
                url: "https://portal.example/api/orders".into(),
                cursor_param: "cursor".into()
            }
        );
    }

    #[test]
    fn configured_calls_auth_and_webhook_are_resolved() {
        let rest = json!({
            "inventory": {"path": "/v2/stock", "method": "PUT"},
            "price": {"path": "/v2/prices", "method": "PATCH"},
            "batchSize": 250,
            "auth": {"header": "X-Api-Key", "secretKey": "api_key"},
            "orders": {"webhook": {"hmacSecretKey": "hmac", "maxSkewSeconds": 60}},
        });
        let spec = spec(rest, "http://127.0.0.1:9");
        assert_eq!(
            secret_keys(&spec),
            SecretKeys {
                auth: Some("api_key".into()),
                webhook: Some("hmac".into())
            }
        );
        let s = resolve(&spec, Some("k-123")).unwrap();
        assert_eq!(s.inventory.method, reqwest::Method::PUT);
        assert_eq!(s.inventory.url, "http://127.0.0.1:9/v2/stock");
        assert_eq!(s.price.method, reqwest::Method::PATCH);
        assert_eq!(s.catalog.url, "http://127.0.0.1:9/catalog");
        assert_eq!(s.batch_size, 250);
        let auth = s.auth.unwrap();
        assert_eq!(auth.name.as_str(), "x-api-key");
        assert_eq!(auth.value.to_str().unwrap(), "k-123");
        assert!(!format!("{auth:?}").contains("k-123"));
        assert_eq!(
            s.orders,
            OrdersMode::Webhook {
                secret_key: "hmac".into(),
                max_skew_seconds: 60
            }
        );
    }

    #[test]
    fn a_prefix_goes_before_the_secret() {
        let rest =
            json!({"auth": {"header": "Authorization", "secretKey": "token", "prefix": "Bearer "}});
        let s = resolve(&spec(rest, "https://p.example"), Some("abc")).unwrap();
        assert_eq!(s.auth.unwrap().value.to_str().unwrap(), "Bearer abc");
    }

    #[test]
    fn errors_name_the_field_and_value() {
        let e = |rest: serde_json::Value, base: &str, auth: Option<&str>| {
            resolve(&spec(rest, base), auth).unwrap_err()
        };
        assert_eq!(
            e(json!({}), "ftp://x", None),
            "spec.endpoint.baseUrl: \"ftp://x\" is not an http(s) URL without query or fragment"
        );
        assert_eq!(
            e(json!({"inventory": {"path": "stock"}}), "https://p", None),
            "spec.rest.inventory.path: \"stock\" must start with / and hold no query, fragment or space"
        );
        assert_eq!(
            e(json!({"batchSize": 0}), "https://p", None),
            "spec.rest.batchSize: 0 is out of range (1 to 10000)"
        );
        assert_eq!(
            e(
                json!({"auth": {"header": "X Key", "secretKey": "k"}}),
                "https://p",
                Some("v")
            ),
            "spec.rest.auth.header: \"X Key\" is not an HTTP header name"
        );
        assert_eq!(
            e(
                json!({"auth": {"header": "X-Key", "secretKey": "k"}}),
                "https://p",
                None
            ),
            "spec.rest.auth.secretKey: credentials Secret key \"k\" is missing or empty"
        );
        assert_eq!(
            e(
                json!({"orders": {"poll": {"path": "/o", "cursorParam": "a b"}}}),
                "https://p",
                None
            ),
            "spec.rest.orders.poll.cursorParam: \"a b\" is not a query parameter name (letters, digits, _ . -)"
        );
        assert_eq!(
            e(json!({"orders": {}}), "https://p", None),
            "spec.rest.orders must set exactly one of poll, webhook"
        );
    }
}
