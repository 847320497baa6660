//! Real PostgreSQL databases: these fail without a server that `TRADEWIND_PG_URL` (or the default) reaches.

use std::time::Duration;

use test_support::{TestDatabase, pg_base_url};
use tokio::time::Instant;

async fn create() -> TestDatabase {
    TestDatabase::create()
        .await
        .unwrap_or_else(|err| panic!("{err}"))
}

async fn base_client() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&pg_base_url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the base database");
    tokio::spawn(connection);
    client
}

async fn database_exists(base: &tokio_postgres::Client, name: &str) -> bool {
    base.query_one(
        "SELECT count(*) FROM pg_database WHERE datname = $1",
        &[&name],
    )
    .await
    .expect("query pg_database")
    .get::<_, i64>(0)
        == 1
}

#[tokio::test]
async fn each_test_database_is_distinct() {
    let (a, b) = (create().await, create().await);
    assert_ne!(a.name(), b.name());
    assert_ne!(a.url(), b.url());
    assert!(a.name().starts_with("tw_test_"));
    assert!(a.url().ends_with(&format!("/{}", a.name())), "{}", a.url());

    let client_a = a.client().await.expect("connect to a");
    let client_b = b.client().await.expect("connect to b");
    let current: String = client_a
        .query_one("SELECT current_database()", &[])
        .await
        .expect("current_database")
        .get(0);
    assert_eq!(current, a.name());

    client_a
        .batch_execute(
            "CREATE TABLE listings (sku text PRIMARY KEY); INSERT INTO listings VALUES ('A-1')",
        )
        .await
        .expect("create a table in a");
    let in_a: Option<String> = client_a
        .query_one("SELECT to_regclass('public.listings')::text", &[])
        .await
        .expect("query a")
        .get(0);
    assert_eq!(in_a.as_deref(), Some("listings"));
    let in_b: Option<String> = client_b
        .query_one("SELECT to_regclass('public.listings')::text", &[])
        .await
        .expect("query b")
        .get(0);
    assert_eq!(in_b, None, "the table created in a must not exist in b");
}

#[tokio::test]
async fn database_is_gone_after_drop() {
    let base = base_client().await;
    let db = create().await;
    let name = db.name().to_string();
    assert!(database_exists(&base, &name).await);

    // An open session must not keep the database alive.
    let client = db.client().await.expect("connect");
    client
        .batch_execute("CREATE TABLE t (x int)")
        .await
        .expect("create a table");
    drop(db);

    let deadline = Instant::now() + Duration::from_secs(15);
    while database_exists(&base, &name).await {
        assert!(
            Instant::now() < deadline,
            "{name} still exists 15 s after the drop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        client.simple_query("SELECT 1").await.is_err(),
        "the session on the dropped database is closed"
    );
}

#[tokio::test]
async fn close_drops_the_database_and_reports_success() {
    let base = base_client().await;
    let db = create().await;
    let name = db.name().to_string();
    db.close().await.unwrap_or_else(|err| panic!("{err}"));
    assert!(!database_exists(&base, &name).await);
}
