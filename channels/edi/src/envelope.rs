//! Our envelopes around transaction sets: one interchange with one functional group per delivery.
//!
//! ISA13 and GS06 carry the same control number (one group per interchange), allocated from the KV bucket so
//! it never repeats; ST02 numbers the sets within their group from 0001.

use chrono::{DateTime, Utc};

use crate::settings::Partner;
use crate::x12::{self, Group, Interchange, InterchangeHeader, Segment, Transaction};

/// An interchange from us to the partner holding one set of `set_id` per body.
pub fn interchange(
    partner: &Partner,
    control_number: u32,
    now: DateTime<Utc>,
    set_id: &str,
    bodies: Vec<Vec<Segment>>,
) -> Result<Interchange, String> {
    let functional_id = x12::functional_id(set_id)
        .ok_or_else(|| format!("no functional group for set {set_id}"))?;
    let transactions = bodies
        .into_iter()
        .enumerate()
        .map(|(i, segments)| Transaction {
            set_id: set_id.to_string(),
            control_number: format!("{:04}", i + 1),
            segments,
        })
        .collect();
    Ok(Interchange {
        header: InterchangeHeader {
            authorization_qualifier: "00".into(),
            authorization: String::new(),
            security_qualifier: "00".into(),
            security: String::new(),
            sender_qualifier: partner.our_qualifier.clone(),
            sender_id: partner.our_id.clone(),
            receiver_qualifier: partner.partner_qualifier.clone(),
            receiver_id: partner.partner_id.clone(),
            date: now.format("%y%m%d").to_string(),
            time: now.format("%H%M").to_string(),
            control_number,
            acknowledgement_requested: false,
            usage: partner.usage,
        },
        delimiters: partner.delimiters,
        groups: vec![Group {
            functional_id: functional_id.to_string(),
            sender_code: partner.our_application.clone(),
            receiver_code: partner.partner_application.clone(),
            date: now.format("%Y%m%d").to_string(),
            time: now.format("%H%M").to_string(),
            control_number,
            version: x12::GS_VERSION.to_string(),
            transactions,
        }],
    })
}

/// The file name of an interchange we send: control number first, so names sort in sending order.
pub fn file_name(control_number: u32, set_id: &str) -> String {
    format!("{control_number:09}-{set_id}.x12")
}

/// Is an inbound interchange addressed to us, from this partner? The envelope ids must match the settings.
pub fn check_addressing(partner: &Partner, ic: &Interchange) -> Result<(), String> {
    let h = &ic.header;
    if h.receiver_id != partner.our_id {
        return Err(format!(
            "segment 1 (ISA), element 08 (ISA08): interchange is addressed to {:?}, not to us ({:?})",
            h.receiver_id, partner.our_id
        ));
    }
    if h.sender_id != partner.partner_id {
        return Err(format!(
            "segment 1 (ISA), element 06 (ISA06): interchange is from {:?}, not from the partner {:?}",
            h.sender_id, partner.partner_id
        ));
    }
    Ok(())
}
