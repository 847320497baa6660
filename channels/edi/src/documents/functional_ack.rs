//! 997 Functional Acknowledgment, both ways: what we answer for each group a partner sends, and what a
//! partner's 997 says about one of ours.

use crate::x12::{Group, Segment, Transaction};

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
/// that was not is rejected with AK5 `R`, code 5: one or more segments in error). AK9 is `A` when every set
/// was, `R` when none was, `P` otherwise.
pub fn answer(group: &Group, accepted: &[bool]) -> Vec<Segment> {
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
    let n = group.transactions.len();
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
