//! The trading-partner settings of a `Marketplace` (`spec.edi`, `spec.endpoint.sellerId`), checked once.

use std::time::Duration;

use crds::v1alpha1::{EdiUsage, MarketplaceSpec};

use crate::x12::Delimiters;

/// Who is who in the envelopes, and how we write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partner {
    pub our_id: String,
    pub our_qualifier: String,
    pub partner_id: String,
    pub partner_qualifier: String,
    /// GS02 and GS03 of what we send.
    pub our_application: String,
    pub partner_application: String,
    pub delimiters: Delimiters,
    /// ISA15.
    pub usage: char,
    pub outbound_dir: String,
    pub inbound_dir: String,
    pub acknowledgement_deadline: Duration,
}

fn one_char(field: &str, value: &str) -> Result<char, String> {
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(format!(
            "spec.edi.{field} {value:?} must be exactly one character"
        )),
    }
}

impl Partner {
    pub fn from_spec(spec: &MarketplaceSpec) -> Result<Self, String> {
        let edi = spec.edi.as_ref().ok_or(
            "spec.edi is required for an edi-x12 marketplace (at least spec.edi.interchangeId)",
        )?;
        let partner_id = spec
            .endpoint
            .seller_id
            .clone()
            .filter(|id| !id.is_empty() && id.len() <= 15)
            .ok_or(
                "spec.endpoint.sellerId must be the partner's interchange id (1 to 15 characters)",
            )?;
        let delimiters = Delimiters {
            element: one_char("elementSeparator", &edi.element_separator)?,
            component: one_char("componentSeparator", &edi.component_separator)?,
            segment: one_char("segmentTerminator", &edi.segment_terminator)?,
        };
        delimiters.check().map_err(|e| format!("spec.edi: {e}"))?;
        if edi.interchange_id.is_empty() || edi.interchange_id.len() > 15 {
            return Err(format!(
                "spec.edi.interchangeId {:?} must be 1 to 15 characters",
                edi.interchange_id
            ));
        }
        let application = |code: &Option<String>, default: &str| {
            let code = code.clone().unwrap_or_else(|| default.to_string());
            // GS02/GS03 are 2 to 15 characters; a one-character interchange id is padded as partners expect.
            if code.len() < 2 {
                format!("{code:<2}")
            } else {
                code
            }
        };
        Ok(Self {
            our_application: application(&edi.application_id, &edi.interchange_id),
            partner_application: application(&edi.partner_application_id, &partner_id),
            our_id: edi.interchange_id.clone(),
            our_qualifier: edi.interchange_id_qualifier.clone(),
            partner_id,
            partner_qualifier: edi.partner_id_qualifier.clone(),
            delimiters,
            usage: match edi.usage {
                EdiUsage::Production => 'P',
                EdiUsage::Test => 'T',
            },
            outbound_dir: edi.outbound_dir.clone(),
            inbound_dir: edi.inbound_dir.clone(),
            acknowledgement_deadline: edi.acknowledgement_deadline.into(),
        })
    }
}
