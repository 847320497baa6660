//! 997 Functional Acknowledgment, both ways: what we answer for each group a partner sends, and what a
//! partner's 997 says about one of ours.

use crate::x12::scan::{self, Scanned};
use crate::x12::{Fault, Group, RefusedSet, Segment, Transaction, X12Error};

/// AK9/AK5 codes: accepted, accepted with errors, partially accepted, rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckStatus {
    Accepted,
    AcceptedWithErrors,
    PartiallyAccepted,
    Rejected,
}

impl AckStatus {
    pub fn code(self) -> &'static str {
        match self {
            AckStatus::Accepted => "A",
            AckStatus::AcceptedWithErrors => "E",
            AckStatus::PartiallyAccepted => "P",
            AckStatus::Rejected => "R",
        }
    }

    fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "A" => AckStatus::Accepted,
            "E" => AckStatus::AcceptedWithErrors,
            "P" => AckStatus::PartiallyAccepted,
            "R" | "M" | "W" | "X" => AckStatus::Rejected,
            _ => return None,
        })
    }

    /// The partner took the group (or some of it) in.
    pub fn accepted(self) -> bool {
        !matches!(self, AckStatus::Rejected)
    }
}

/// The body of our 997 for a group we received: `accepted[i]` tells whether its i-th set was read (a set
/// that was not is rejected with AK5 `R`, code 5: one or more segments in error); `refused` are the sets the
/// reader refused, each rejected naming where (see [`error_loop`]). AK9 is `A` when every set was taken in,
/// `R` when none was, `P` otherwise.
pub fn answer(group: &Group, accepted: &[bool], refused: &[&RefusedSet]) -> Vec<Segment> {
    let mut segments = vec![Segment::new(
        "AK1",
        &[&group.functional_id, &group.control_number.to_string()],
    )];
    let mut taken = 0;
    for (i, t) in group.transactions.iter().enumerate() {
        segments.push(Segment::new("AK2", &[&t.set_id, &t.control_number]));
        if accepted.get(i).copied().unwrap_or(false) {
            taken += 1;
            segments.push(Segment::new("AK5", &["A"]));
        } else {
            segments.push(Segment::new("AK5", &["R", "5"]));
        }
    }
    for r in refused {
        segments.extend(error_loop(
            &r.set_id,
            &r.control_number,
            r.position,
            &r.error,
        ));
    }
    let n = group.transactions.len() + refused.len();
    let status = if taken == n {
        AckStatus::Accepted
    } else if taken == 0 {
        AckStatus::Rejected
    } else {
        AckStatus::PartiallyAccepted
    };
    segments.push(Segment::new(
        "AK9",
        &[
            status.code(),
            &n.to_string(),
            &n.to_string(),
            &taken.to_string(),
        ],
    ));
    segments
}

/// What a partner's 997 says about one of our groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acknowledged {
    pub functional_id: String,
    /// Our GS06 it answers.
    pub group_control_number: u32,
    pub status: AckStatus,
    /// Sets the partner did not accept: (ST01, ST02, AK5 code).
    pub rejected_sets: Vec<(String, String, String)>,
}

/// Reads a 997 set.
pub fn read(t: &Transaction) -> Result<Acknowledged, String> {
    let mut ak1 = None;
    let mut status = None;
    let mut rejected = Vec::new();
    let mut current: Option<(String, String)> = None;
    for s in &t.segments {
        match s.id.as_str() {
            "AK1" => {
                let number = s
                    .get(2)
                    .parse::<u32>()
                    .map_err(|_| format!("AK102 {:?} is not a group control number", s.get(2)))?;
                ak1 = Some((s.get(1).to_string(), number));
            }
            "AK2" => current = Some((s.get(1).to_string(), s.get(2).to_string())),
            "AK5" => {
                let code = s.get(1);
                if AckStatus::parse(code).is_some_and(|c| !c.accepted()) {
                    let (set, control) = current.clone().unwrap_or_default();
                    rejected.push((set, control, code.to_string()));
                }
            }
            "AK9" => {
                status = Some(
                    AckStatus::parse(s.get(1))
                        .ok_or_else(|| format!("AK901 {:?} is not A, E, P or R", s.get(1)))?,
                );
            }
            _ => {}
        }
    }
    let (functional_id, group_control_number) =
        ak1.ok_or("the 997 has no AK1 (which group it answers)")?;
    Ok(Acknowledged {
        functional_id,
        group_control_number,
        status: status.ok_or("the 997 has no AK9 (the group's status)")?,
        rejected_sets: rejected,
    })
}

/// The bodies of our 997s for an interchange the reader refused, one per group found (a partner's 997 groups
/// are never answered). Nothing of the interchange was taken in, so every group is rejected (AK9 `R`, none
/// accepted); the group holding the error says where: at its own envelope with AK905, or in a set with AK2,
/// AK3 (segment id, position in the set counting ST as 1, `8` data element errors or `2` unexpected), AK4
/// (element position, `6` invalid character or `7` invalid value) and AK5 with the set's error code.
pub fn reject(scanned: &Scanned, error: &X12Error) -> Vec<Vec<Segment>> {
    let located = scanned.locate(error.segment);
    scanned
        .groups
        .iter()
        .filter(|g| g.functional_id != "FA")
        .map(|g| {
            let mut segments = vec![Segment::new(
                "AK1",
                &[&g.functional_id, &g.control_number.to_string()],
            )];
            let n = g.sets.len().to_string();
            let mut group_code = "";
            let holds_error = located.is_some_and(|(lg, _)| std::ptr::eq(lg, g));
            if holds_error {
                match (scan::group_error_code(error), located.and_then(|(_, s)| s)) {
                    (Some(code), _) => group_code = code,
                    (None, Some(set)) if error.segment_id != "IEA" => {
                        segments.extend(error_loop(
                            &set.set_id,
                            &set.control_number,
                            set.position,
                            error,
                        ));
                    }
                    _ => {}
                }
            }
            segments.push(Segment::new("AK9", &["R", &n, &n, "0", group_code]).trimmed());
            segments
        })
        .collect()
}

/// The AK2 loop rejecting one set: AK2 (ST01, ST02), for an error in a segment AK3 (its id, its position in
/// the set counting ST as 1, `8` data element errors or `2` unexpected) and AK4 (element position, `6` invalid
/// character or `7` invalid value), and AK5 `R` with the set's code. `st_position` is the ST's position in the
/// interchange.
pub fn error_loop(
    set_id: &str,
    control: &str,
    st_position: usize,
    error: &X12Error,
) -> Vec<Segment> {
    let mut segments = vec![Segment::new("AK2", &[set_id, control])];
    let code = scan::set_error_code(error);
    if code == "5" && !error.segment_id.is_empty() {
        let position = (error.segment + 1).saturating_sub(st_position);
        let syntax = if error.element.is_some() { "8" } else { "2" };
        segments.push(Segment::new(
            "AK3",
            &[&error.segment_id, &position.to_string(), "", syntax],
        ));
        if let Some(element) = error.element {
            let invalid = if error.fault == Fault::ControlCharacter {
                "6"
            } else {
                "7"
            };
            segments.push(Segment::new("AK4", &[&element.to_string(), "", invalid]));
        }
    }
    segments.push(Segment::new("AK5", &["R", code]));
    segments
}
