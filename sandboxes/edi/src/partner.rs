//! The partner's side: reading our interchanges, writing its own.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};

/// The partner's delimiters: deliberately not ours (`*`, `>`, `~`), so the connector must read the ISA's.
pub const ELEMENT: char = '|';
pub const COMPONENT: char = '^';
pub const SEGMENT: char = '\'';

/// A retailer exchanging X12 004010 with us through a folder.
pub struct Partner {
    root: PathBuf,
    /// Its interchange id, and ours.
    pub id: String,
    pub our_id: String,
    next_control: AtomicU32,
}

/// One of our sets as the partner read it: elements per segment, ST and SE excluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedSet {
    pub set_id: String,
    pub control_number: String,
    pub segments: Vec<Vec<String>>,
}

/// One of our interchanges as the partner read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub file: String,
    pub sender: String,
    pub receiver: String,
    pub control_number: u32,
    pub functional_id: String,
    pub group_control_number: u32,
    pub sets: Vec<ReceivedSet>,
}

impl Received {
    /// Segments of every set with id `id`.
    pub fn segments(&self, id: &str) -> Vec<&Vec<String>> {
        self.sets
            .iter()
            .flat_map(|s| s.segments.iter())
            .filter(|s| s.first().is_some_and(|x| x == id))
            .collect()
    }

    /// An 846's advertised quantities: (LIN03, QTY02) per loop.
    pub fn inventory(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        let mut sku = None;
        for s in self.sets.iter().flat_map(|s| s.segments.iter()) {
            match s.first().map(String::as_str) {
                Some("LIN") => sku = s.get(3).cloned(),
                Some("QTY") if s.get(1).map(String::as_str) == Some("33") => {
                    if let (Some(sku), Some(q)) =
                        (sku.clone(), s.get(2).and_then(|q| q.parse().ok()))
                    {
                        out.push((sku, q));
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// A purchase order the partner sends.
#[derive(Clone, Debug)]
pub struct PurchaseOrder {
    pub number: String,
    pub date: DateTime<Utc>,
    pub currency: String,
    pub ship_to_name: String,
    pub address: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    pub lines: Vec<PurchaseOrderLine>,
}

#[derive(Clone, Debug)]
pub struct PurchaseOrderLine {
    pub line: String,
    pub quantity: i64,
    /// As written in PO104, a decimal in text.
    pub unit_price: String,
    pub vendor_part: String,
}

impl PurchaseOrder {
    pub fn sample(number: &str, lines: &[(&str, i64, &str)]) -> Self {
        Self {
            number: number.into(),
            date: Utc::now(),
            currency: "USD".into(),
            ship_to_name: "Acme Store 42".into(),
            address: "100 Main Street".into(),
            city: "Newark".into(),
            state: "NJ".into(),
            postal_code: "07102".into(),
            country: "US".into(),
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, (sku, q, price))| PurchaseOrderLine {
                    line: (i + 1).to_string(),
                    quantity: *q,
                    unit_price: (*price).into(),
                    vendor_part: (*sku).into(),
                })
                .collect(),
        }
    }

    fn segments(&self) -> Vec<Vec<String>> {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
        let date = self.date.format("%Y%m%d").to_string();
        let mut out = vec![
            s(&["BEG", "00", "SA", &self.number, "", &date]),
            s(&["CUR", "BY", &self.currency]),
            s(&["DTM", "010", &date]),
            s(&["N1", "BY", "Acme Retail", "92", "0042"]),
            s(&["N1", "ST", &self.ship_to_name, "92", "0042"]),
            s(&["N3", &self.address]),
            s(&[
                "N4",
                &self.city,
                &self.state,
                &self.postal_code,
                &self.country,
            ]),
        ];
        for l in &self.lines {
            out.push(s(&[
                "PO1",
                &l.line,
                &l.quantity.to_string(),
                "EA",
                &l.unit_price,
                "PE",
                "VN",
                &l.vendor_part,
            ]));
        }
        out.push(s(&["CTT", &self.lines.len().to_string()]));
        out
    }
}

impl Partner {
    /// A partner serving `root` (its `in/` and `out/` folders are created), with interchange id `id`,
    /// trading with us as `our_id`.
    pub fn new(root: &Path, id: &str, our_id: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("in"))?;
        std::fs::create_dir_all(root.join("out"))?;
        Ok(Self {
            root: root.to_path_buf(),
            id: id.into(),
            our_id: our_id.into(),
            next_control: AtomicU32::new(700),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Our interchanges the partner has received, in file-name order (unreadable files are errors).
    pub fn received(&self) -> Result<Vec<Received>, String> {
        let dir = self.root.join("in");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let text =
                    std::fs::read_to_string(dir.join(&name)).map_err(|e| format!("{name}: {e}"))?;
                read(&name, &text).map_err(|e| format!("{name}: {e}"))
            })
            .collect()
    }

    /// Received interchanges carrying sets of `set_id`.
    pub fn received_sets(&self, set_id: &str) -> Result<Vec<Received>, String> {
        Ok(self
            .received()?
            .into_iter()
            .filter(|r| r.sets.iter().any(|s| s.set_id == set_id))
            .collect())
    }

    fn control(&self) -> u32 {
        self.next_control.fetch_add(1, Ordering::SeqCst)
    }

    /// Writes one interchange of the partner into `out/` (atomically, by rename), returning its file name.
    fn drop(
        &self,
        functional_id: &str,
        set_id: &str,
        sets: Vec<Vec<Vec<String>>>,
    ) -> std::io::Result<String> {
        let control = self.control();
        let now = Utc::now();
        let mut out = format!(
            "ISA{e}00{e}{:10}{e}00{e}{:10}{e}ZZ{e}{:<15}{e}ZZ{e}{:<15}{e}{}{e}{}{e}U{e}00401{e}{control:09}{e}0{e}P{e}{COMPONENT}{SEGMENT}\n",
            "",
            "",
            self.id,
            self.our_id,
            now.format("%y%m%d"),
            now.format("%H%M"),
            e = ELEMENT
        );
        let mut line = |segment: &[String]| {
            out.push_str(&segment.join(&ELEMENT.to_string()));
            out.push(SEGMENT);
            out.push('\n');
        };
        let seg = |v: &[&str]| v.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
        line(&seg(&[
            "GS",
            functional_id,
            &self.id,
            &self.our_id,
            &now.format("%Y%m%d").to_string(),
            &now.format("%H%M").to_string(),
            &control.to_string(),
            "X",
            "004010",
        ]));
        let count = sets.len();
        for (i, body) in sets.into_iter().enumerate() {
            let st02 = format!("{:04}", i + 1);
            line(&seg(&["ST", set_id, &st02]));
            let n = body.len();
            for s in body {
                line(&s);
            }
            line(&seg(&["SE", &(n + 2).to_string(), &st02]));
        }
        line(&seg(&["GE", &count.to_string(), &control.to_string()]));
        line(&seg(&["IEA", "1", &format!("{control:09}")]));
        let name = format!("{}-{control:09}-{set_id}.edi", self.id);
        self.write_out(&name, out.as_bytes())?;
        Ok(name)
    }

    /// Drops any bytes into `out/` as `name` (a malformed interchange, say).
    pub fn write_out(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let dir = self.root.join("out");
        let part = dir.join(format!(".{name}.part"));
        std::fs::write(&part, bytes)?;
        std::fs::rename(part, dir.join(name))
    }

    /// Sends purchase orders, one 850 set each, in one interchange.
    pub fn send_purchase_orders(&self, orders: &[PurchaseOrder]) -> std::io::Result<String> {
        self.drop(
            "PO",
            "850",
            orders.iter().map(PurchaseOrder::segments).collect(),
        )
    }

    /// Acknowledges one of our interchanges with a 997: every set accepted, or the group rejected.
    pub fn acknowledge(&self, received: &Received, accept: bool) -> std::io::Result<String> {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
        let mut body = vec![s(&[
            "AK1",
            &received.functional_id,
            &received.group_control_number.to_string(),
        ])];
        for set in &received.sets {
            body.push(s(&["AK2", &set.set_id, &set.control_number]));
            body.push(if accept {
                s(&["AK5", "A"])
            } else {
                s(&["AK5", "R", "5"])
            });
        }
        let n = received.sets.len().to_string();
        let taken = if accept { n.clone() } else { "0".into() };
        body.push(s(&["AK9", if accept { "A" } else { "R" }, &n, &n, &taken]));
        self.drop("FA", "997", vec![body])
    }

    /// Files still waiting in `out/` (the connector moves what it read to `out/archive` or `out/rejected`).
    pub fn waiting(&self) -> Vec<String> {
        list(&self.root.join("out"))
    }

    pub fn archived(&self) -> Vec<String> {
        list(&self.root.join("out/archive"))
    }

    pub fn rejected(&self) -> Vec<String> {
        list(&self.root.join("out/rejected"))
    }
}

fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The partner's reader: delimiters from the ISA, envelopes checked as a partner's translator does.
pub fn read(file: &str, text: &str) -> Result<Received, String> {
    let text = text.trim_start();
    let bytes = text.as_bytes();
    if bytes.len() < 106 || !text.starts_with("ISA") {
        return Err("not an X12 interchange".into());
    }
    let element = char::from(bytes[3]);
    let segment = char::from(bytes[105]);
    let segments: Vec<Vec<String>> = text
        .split(segment)
        .map(|s| s.trim_matches(|c| c == '\r' || c == '\n'))
        .filter(|s| !s.is_empty())
        .map(|s| s.split(element).map(str::to_string).collect())
        .collect();
    let id = |s: &Vec<String>| s.first().cloned().unwrap_or_default();
    let get = |s: &Vec<String>, i: usize| s.get(i).cloned().unwrap_or_default();
    let isa = segments.first().ok_or("empty")?;
    let gs = segments
        .get(1)
        .filter(|s| id(s) == "GS")
        .ok_or("no GS after ISA")?;
    let iea = segments
        .last()
        .filter(|s| id(s) == "IEA")
        .ok_or("no IEA at the end")?;
    let ge = segments
        .get(segments.len().saturating_sub(2))
        .filter(|s| id(s) == "GE")
        .ok_or("no GE before IEA")?;
    if get(iea, 2) != get(isa, 13) {
        return Err(format!(
            "IEA02 {} differs from ISA13 {}",
            get(iea, 2),
            get(isa, 13)
        ));
    }
    if get(ge, 2) != get(gs, 6) {
        return Err(format!(
            "GE02 {} differs from GS06 {}",
            get(ge, 2),
            get(gs, 6)
        ));
    }
    let mut sets = Vec::new();
    let mut current: Option<ReceivedSet> = None;
    for s in &segments[2..segments.len() - 2] {
        match id(s).as_str() {
            "ST" => {
                current = Some(ReceivedSet {
                    set_id: get(s, 1),
                    control_number: get(s, 2),
                    segments: Vec::new(),
                })
            }
            "SE" => {
                let set = current.take().ok_or("SE without ST")?;
                let count: usize = get(s, 1).parse().map_err(|_| "SE01 is not a number")?;
                if count != set.segments.len() + 2 || get(s, 2) != set.control_number {
                    return Err(format!(
                        "SE {:?} does not close ST {}",
                        s, set.control_number
                    ));
                }
                sets.push(set);
            }
            _ => current
                .as_mut()
                .ok_or_else(|| format!("segment {} outside a set", id(s)))?
                .segments
                .push(s.clone()),
        }
    }
    if get(ge, 1) != sets.len().to_string() {
        return Err(format!("GE01 {} but {} sets", get(ge, 1), sets.len()));
    }
    Ok(Received {
        file: file.to_string(),
        sender: get(isa, 6).trim().to_string(),
        receiver: get(isa, 8).trim().to_string(),
        control_number: get(isa, 13).parse().map_err(|_| "ISA13 is not a number")?,
        functional_id: get(gs, 1),
        group_control_number: get(gs, 6).parse().map_err(|_| "GS06 is not a number")?,
        sets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partner_reads_back_what_it_writes_and_checks_the_envelopes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let partner = Partner::new(dir.path(), "ACMERETAIL", "TRADEWINDDIST").expect("folders");
        let orders = [
            PurchaseOrder::sample("PO-1", &[("A", 2, "1.50")]),
            PurchaseOrder::sample("PO-2", &[("B", 1, "3")]),
        ];
        let name = partner.send_purchase_orders(&orders).expect("written");
        let text = std::fs::read_to_string(dir.path().join("out").join(&name)).expect("readable");
        let read = read(&name, &text).expect("valid");
        assert_eq!(
            (read.sender.as_str(), read.receiver.as_str()),
            ("ACMERETAIL", "TRADEWINDDIST")
        );
        assert_eq!(read.functional_id, "PO");
        assert_eq!(read.sets.len(), 2);
        assert_eq!(read.segments("BEG")[1][3], "PO-2");
        let tampered = text.replace("SE|11|0001", "SE|10|0001");
        assert!(read_tampered(&name, &tampered).contains("does not close"));
        assert_eq!(partner.waiting(), vec![name]);
    }

    fn read_tampered(name: &str, text: &str) -> String {
        match read(name, text) {
            Ok(r) => panic!("accepted: {r:?}"),
            Err(e) => e,
        }
    }
}
