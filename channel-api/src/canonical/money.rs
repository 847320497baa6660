//! Money: a decimal amount with its ISO 4217 currency. Never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code: three upper-case letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn as_str(&self) -> &str {
        // The bytes are checked ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => {
                Ok(Currency([*a, *b, *c]))
            }
            _ => Err(format!(
                "currency {s:?} is not an ISO 4217 code (three upper-case letters)"
            )),
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> String {
        value.as_str().to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl JsonSchema for Currency {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Currency".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Z]{3}$",
            "description": "ISO 4217 currency code."
        })
    }
}

/// An amount of money. The amount is a decimal string in JSON (`"12.99"`), so no value ever passes through a
/// binary floating-point number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Money {
    /// Decimal amount, for example `"12.99"` or `"-3.50"`.
    #[serde(with = "rust_decimal::serde::str")]
    #[schemars(with = "String", regex(pattern = r"^-?[0-9]+(\.[0-9]+)?$"))]
    pub amount: Decimal,
    /// ISO 4217 currency.
    pub currency: Currency,
}

/// Arithmetic between amounts of different currencies.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot combine {left} with {right}")]
pub struct CurrencyMismatch {
    pub left: Currency,
    pub right: Currency,
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// `self + other`, when both are in the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, CurrencyMismatch> {
        if self.currency != other.currency {
            return Err(CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            });
        }
        Ok(Money::new(self.amount + other.amount, self.currency))
    }

    /// `self × quantity`.
    pub fn times(self, quantity: i64) -> Money {
        Money::new(self.amount * Decimal::from(quantity), self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(amount: &str) -> Money {
        Money::new(amount.parse().unwrap(), "USD".parse().unwrap())
    }

    #[test]
    fn amounts_are_decimal_strings() {
        let money = usd("0.10").checked_add(usd("0.20")).unwrap();
        assert_eq!(
            serde_json::to_string(&money).ok().as_deref(),
            Some(r#"{"amount":"0.30","currency":"USD"}"#)
        );
    }

    #[test]
    fn float_amounts_are_refused() {
        let parsed = serde_json::from_str::<Money>(r#"{"amount":0.1,"currency":"USD"}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn currencies_must_match() {
        let eur = Money::new(Decimal::ONE, "EUR".parse().unwrap());
        assert!(usd("1").checked_add(eur).is_err());
        assert!("usd".parse::<Currency>().is_err());
    }

    #[test]
    fn multiplication_is_exact() {
        assert_eq!(usd("19.99").times(3), usd("59.97"));
    }
}
