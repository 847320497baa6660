//! Identifiers: newtypes so that a SKU is never passed where an order id is expected.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_IDENTIFIER_LEN,
                    "description": $what,
                })
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                check_identifier($what, &value).map(|()| Self(value))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = String;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::try_from(value.to_string())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// Longest identifier accepted: generous for every channel's ids, small enough to bound subjects and keys.
pub const MAX_IDENTIFIER_LEN: usize = 200;

fn check_identifier(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if value.len() > MAX_IDENTIFIER_LEN {
        return Err(format!(
            "{what} is {} bytes long; at most {MAX_IDENTIFIER_LEN}",
            value.len()
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{what} {value:?} contains control characters"));
    }
    Ok(())
}

identifier!(
    /// A stock keeping unit as the ERP knows it (the channel's SKU comes from the mapping's cross-reference).
    Sku,
    "SKU"
);
identifier!(
    /// An order's id on its channel (Amazon `113-5512345-1234567`, Walmart purchase order id, ...).
    OrderId,
    "order id"
);
identifier!(
    /// The name of a `Marketplace` resource: which seller account on which channel a record belongs to.
    MarketplaceName,
    "marketplace name"
);
identifier!(
    /// The id of one business transaction, the same on every record and event of it (an order, its
    /// acknowledgement, shipment, return and settlement lines), for `twctl trace`.
    CorrelationId,
    "correlation id"
);

impl CorrelationId {
    /// The correlation id of everything that belongs to one channel order: `<marketplace>:<order id>`.
    pub fn for_order(marketplace: &MarketplaceName, order_id: &OrderId) -> Self {
        Self(format!("{marketplace}:{order_id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_refuse_empty_and_control_characters() {
        assert!(Sku::try_from("").is_err());
        assert!(Sku::try_from("A\u{0}B").is_err());
        assert!(Sku::try_from("x".repeat(MAX_IDENTIFIER_LEN + 1)).is_err());
        assert!(Sku::try_from("TW-1001").is_ok());
    }

    #[test]
    fn deserialising_checks_too() {
        let error = serde_json::from_str::<Sku>("\"\"")
            .err()
            .map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some("SKU is empty"));
    }

    #[test]
    fn order_correlation_ids_name_marketplace_and_order() {
        let id = CorrelationId::for_order(
            &MarketplaceName::try_from("amazon-us").unwrap(),
            &OrderId::try_from("113-5512345-1234567").unwrap(),
        );
        assert_eq!(id.as_str(), "amazon-us:113-5512345-1234567");
    }
}
