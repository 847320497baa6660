//! Two figures, measured in one run, as ratios:
//! 1. Reading and writing a 10,000-SKU 846 with `x12::{parse, write}`, against serde_json reading and writing
//!    the same positions as JSON (the runtime's own encoding) on this machine.
//! 2. Putting a small interchange through SFTP (a real local sshd, the connector's transport keeping its
//!    session between calls, the first put connecting) against putting it into a local folder.
//!
//! `cargo bench -p channel-edi --bench edi_throughput`

#![allow(clippy::unwrap_used)] // a benchmark that cannot set up fails, which is what unwrap does

use std::time::{Duration, Instant};

use channel_edi::documents::inventory;
use channel_edi::settings::Partner;
use channel_edi::transport::Transport;
use channel_edi::x12::{self, Delimiters};
use chrono::Utc;
use serde_json::json;

const SKUS: usize = 10_000;
const ROUNDS: u32 = 20;
const FILES: usize = 30;

fn partner() -> Partner {
    Partner {
        our_id: "TRADEWINDDIST".into(),
        our_qualifier: "ZZ".into(),
        partner_id: "ACMERETAIL".into(),
        partner_qualifier: "ZZ".into(),
        our_application: "TRADEWINDDIST".into(),
        partner_application: "ACMERETAIL".into(),
        delimiters: Delimiters::default(),
        usage: 'P',
        outbound_dir: "in".into(),
        inbound_dir: "out".into(),
        acknowledgement_deadline: Duration::from_secs(3600),
    }
}

fn time<T>(rounds: u32, mut f: impl FnMut() -> T) -> Duration {
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(f());
    }
    start.elapsed() / rounds
}

fn codec() {
    let records: Vec<serde_json::Value> = (0..SKUS)
        .map(|i| json!({"sku": format!("SKU-{i:06}"), "available": (i % 97) as i64}))
        .collect();
    let loops: Vec<_> = records
        .iter()
        .map(|r| inventory::item_loop(&json!({}), r).unwrap())
        .collect();
    let body = inventory::body("BENCH", Utc::now(), loops);
    let ic =
        channel_edi::envelope::interchange(&partner(), 1, Utc::now(), "846", vec![body]).unwrap();
    let text = x12::write(&ic).unwrap();
    let json_text = serde_json::to_vec(&records).unwrap();

    let x12_write = time(ROUNDS, || x12::write(&ic).unwrap());
    let x12_parse = time(ROUNDS, || x12::parse(text.as_bytes()).unwrap());
    let json_write = time(ROUNDS, || serde_json::to_vec(&records).unwrap());
    let json_parse = time(ROUNDS, || {
        serde_json::from_slice::<Vec<serde_json::Value>>(&json_text).unwrap()
    });
    println!(
        "846 with {SKUS} SKUs: {} bytes of X12, {} bytes of JSON",
        text.len(),
        json_text.len()
    );
    println!(
        "x12 write {:?}, json write {:?}: ratio {:.2}",
        x12_write,
        json_write,
        x12_write.as_secs_f64() / json_write.as_secs_f64()
    );
    println!(
        "x12 parse {:?}, json parse {:?}: ratio {:.2}",
        x12_parse,
        json_parse,
        x12_parse.as_secs_f64() / json_parse.as_secs_f64()
    );
}

async fn puts(transport: &Transport, bytes: &[u8]) -> Duration {
    let start = Instant::now();
    for i in 0..FILES {
        transport
            .put("in", &format!("{i:09}-846.x12"), bytes)
            .await
            .unwrap();
    }
    start.elapsed() / FILES as u32
}

async fn transports() {
    let ssh = match sandbox_edi::SshServer::start().await {
        Ok(ssh) => ssh,
        Err(e) => {
            println!("SFTP figure skipped: {e}");
            return;
        }
    };
    let bytes = vec![b'x'; 4096];
    let folder = tempfile::tempdir().unwrap();
    let local = Transport::Folder(channel_edi::transport::folder::Folder::new(
        folder.path().into(),
    ));
    let credentials = tempfile::tempdir().unwrap();
    std::fs::write(credentials.path().join("username"), ssh.user()).unwrap();
    std::fs::write(
        credentials.path().join("ssh_private_key"),
        ssh.user_private_key(),
    )
    .unwrap();
    std::fs::write(
        credentials.path().join("known_hosts"),
        ssh.known_hosts_line(),
    )
    .unwrap();
    let root = tempfile::tempdir_in(ssh.dir()).unwrap();
    let url = format!("sftp://127.0.0.1:{}{}", ssh.port(), root.path().display());
    let sftp = channel_edi::transport_for(&url, credentials.path()).unwrap();
    let folder_put = puts(&local, &bytes).await;
    let sftp_put = puts(&sftp, &bytes).await;
    println!(
        "put of a 4 KiB interchange: folder {:?}, SFTP (session kept) {:?}: ratio {:.0}",
        folder_put,
        sftp_put,
        sftp_put.as_secs_f64() / folder_put.as_secs_f64()
    );
}

fn main() {
    codec();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(transports());
}
