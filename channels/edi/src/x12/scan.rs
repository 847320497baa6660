//! A forgiving look at an interchange the strict reader refused: its header and, as far as they can be found,
//! its groups and sets with their positions, so that the rejection can be reported back in a 997 naming the
//! set, segment and element at fault. Never panics, whatever the bytes.

use super::parse::{ISA_LENGTH, parse_isa};
use super::{Fault, InterchangeHeader, X12Error};

/// A set's envelope as found: ST01, ST02 and the position of its ST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedSet {
    pub set_id: String,
    pub control_number: String,
    pub position: usize,
}

/// A group's envelope as found, with the position of its GS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedGroup {
    pub functional_id: String,
    pub control_number: u32,
    pub position: usize,
    pub sets: Vec<ScannedSet>,
}

/// What could be read of a refused interchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scanned {
    pub header: InterchangeHeader,
    pub groups: Vec<ScannedGroup>,
}

impl Scanned {
    /// The group and set holding segment `position`, if any.
    pub fn locate(&self, position: usize) -> Option<(&ScannedGroup, Option<&ScannedSet>)> {
        let group = self.groups.iter().rev().find(|g| g.position <= position)?;
        let set = group.sets.iter().rev().find(|s| s.position <= position);
        Some((group, set))
    }
}

/// The envelopes of `input`, when its ISA is readable (otherwise there is no one to answer).
pub fn scan(input: &[u8]) -> Option<Scanned> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let start = input.iter().position(|b| !b.is_ascii_whitespace())?;
    let input = &input[start..];
    let (header, delimiters) = parse_isa(input).ok()?;
    let text = String::from_utf8_lossy(input.get(ISA_LENGTH..)?);
    let mut groups: Vec<ScannedGroup> = Vec::new();
    for (i, raw) in text.split(delimiters.segment).enumerate() {
        let position = i + 2;
        let piece = raw.trim_matches(|c| (c == '\r' || c == '\n') && !delimiters.contains(c));
        let mut elements = piece.split(delimiters.element);
        match elements.next() {
            Some("GS") => {
                let functional_id = elements.next().unwrap_or("").chars().take(2).collect();
                let control_number = elements.nth(4).and_then(|n| n.parse().ok());
                if let Some(control_number) = control_number {
                    groups.push(ScannedGroup {
                        functional_id,
                        control_number,
                        position,
                        sets: Vec::new(),
                    });
                }
            }
            Some("ST") => {
                if let Some(group) = groups.last_mut() {
                    group.sets.push(ScannedSet {
                        set_id: elements.next().unwrap_or("").chars().take(3).collect(),
                        control_number: elements.next().unwrap_or("").chars().take(9).collect(),
                        position,
                    });
                }
            }
            _ => {}
        }
    }
    Some(Scanned { header, groups })
}

/// AK5's code for an error at a set's own envelope, else `5` (one or more segments in error).
pub fn set_error_code(error: &X12Error) -> &'static str {
    match (error.segment_id.as_str(), error.element) {
        ("SE", Some(1)) => "4",
        ("SE", Some(2)) => "3",
        ("ST", Some(1)) => "6",
        ("ST", Some(2)) => "7",
        _ if error.fault == Fault::TrailerMissing => "2",
        _ => "5",
    }
}

/// AK905's code for an error at a group's envelope, when it is one.
pub fn group_error_code(error: &X12Error) -> Option<&'static str> {
    match (error.segment_id.as_str(), error.element) {
        ("GE", Some(1)) => Some("5"),
        ("GE", Some(2)) => Some("4"),
        ("GS", Some(8)) => Some("2"),
        ("GS", _) => Some("6"),
        _ => None,
    }
}
