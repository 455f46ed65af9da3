//! The handle to the database (`Store`): the pool, transactions, and the change feed's
//! revision, which every write bumps in its transaction (`commit`). The resource modules
//! build on it; it depends on none of them.

use std::path::Path;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::watch;

use crate::error::{Result, StoreError};
use crate::schema;
use crate::secrets::{Sealer, SecretKey};

/// Where the store stands: a revision number that moves with every committed write, and the
/// revision of the last write that changed what the gateway serves (publishing, backends,
/// upstreams, domains, apps...; not API drafts). Both only grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Revision {
    pub value: u64,
    pub served: u64,
}

/// What a write changed, recorded with its revision so a follower reloads only that
/// (`Store::load_change`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Touch<'a> {
    /// Only drafts: nothing the gateway serves.
    Draft,
    /// What one group serves: its domains, stage variables or grants.
    Group(&'a str),
    /// What one API of a group serves in one environment (publish, rollback, unpublish).
    Api {
        group: &'a str,
        api: &'a str,
        environment: &'a str,
    },
    /// Apps or their credentials (grants belong to the group of their API).
    Access,
    /// Anything else the gateway serves (environments, upstreams, backend definitions).
    All,
}

impl Touch<'_> {
    /// How the `changes` table records it.
    pub(crate) fn scope(&self) -> Option<String> {
        match self {
            Touch::Draft => None,
            Touch::Group(id) => Some(format!("{GROUP_SCOPE}{id}")),
            Touch::Api {
                group,
                api,
                environment,
            } => Some(format!("{API_SCOPE}{group}/{api}/{environment}")),
            Touch::Access => Some(ACCESS_SCOPE.into()),
            Touch::All => Some(ALL_SCOPE.into()),
        }
    }
}

pub(crate) const GROUP_SCOPE: &str = "group:";
/// Followed by `<group>/<api>/<environment>` (ids and environment names hold no `/`).
pub(crate) const API_SCOPE: &str = "api:";
pub(crate) const ACCESS_SCOPE: &str = "access";
pub(crate) const ALL_SCOPE: &str = "*";

/// Changes older than this many revisions behind the newest are forgotten; a follower further
/// behind than that reloads everything.
pub(crate) const CHANGES_KEPT: u64 = 4096;

/// Page cache per SQLite connection: 512 KiB.
const SQLITE_CACHE: &str = "PRAGMA cache_size = -512";

/// The handle to the database; cheap to clone (it shares one pool).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Statement that opens a read-write transaction. On SQLite it is `BEGIN IMMEDIATE`, so the
    /// write lock is taken up front and a read-then-write transaction cannot fail half way with
    /// `SQLITE_BUSY` when another writer commits in between.
    begin_write: &'static str,
    /// Statement that opens a transaction whose reads see one consistent state.
    begin_read: &'static str,
    /// Encrypts and decrypts AppSecrets and AppCodes.
    pub(crate) sealer: std::sync::Arc<Sealer>,
    /// The change feed: the revision, sent after each commit.
    feed: std::sync::Arc<watch::Sender<Revision>>,
}

impl Store {
    /// `sqlite:///abs/path/pylon.db?mode=rwc` or `postgres://...`; creates and migrates.
    /// `key` encrypts the app secrets; it must be the same on every open of one database.
    pub async fn open(url: &str, key: SecretKey) -> Result<Store> {
        install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let mut options = AnyPoolOptions::new().max_connections(if sqlite { 4 } else { 10 });
        if sqlite {
            // SQLite's page cache is per connection (2 MB each by default); the store reads
            // whole groups at a time, which the OS file cache serves as well.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query(SQLITE_CACHE).execute(conn).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(url).await?;
        if sqlite {
            // WAL lets the gateway's snapshot reads run beside admin writes; the mode is stored
            // in the file, so setting it once per open is enough. (sqlx turns foreign keys on
            // for every SQLite connection by default.)
            sqlx::query("PRAGMA journal_mode = WAL")
                .fetch_optional(&pool)
                .await?;
        }
        let store = Store {
            pool,
            begin_write: if sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" },
            begin_read: if sqlite {
                "BEGIN"
            } else {
                "BEGIN ISOLATION LEVEL REPEATABLE READ"
            },
            sealer: std::sync::Arc::new(Sealer::new(&key)),
            feed: std::sync::Arc::new(watch::Sender::new(Revision::default())),
        };
        schema::migrate(&store.pool, store.begin_write).await?;
        let now = store.read_revision().await?;
        store.feed.send_replace(now);
        Ok(store)
    }

    /// Whether the database answers a query now (readiness).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .fetch_one(&mut *self.conn().await?)
            .await?;
        Ok(())
    }

    /// The revision of the last write this process committed (or found on open).
    pub fn revision(&self) -> Revision {
        *self.feed.borrow()
    }

    /// The change feed: the receiver sees the revision move after each commit. A follower
    /// that reloads when `served` moves never misses a change that matters to the gateway;
    /// bursts of writes coalesce into one wake-up. (Writes from another process, in a
    /// cluster, will reach it through PostgreSQL's LISTEN/NOTIFY: docs/dev/change-feed.md.)
    pub fn subscribe(&self) -> watch::Receiver<Revision> {
        self.feed.subscribe()
    }

    async fn read_revision(&self) -> Result<Revision> {
        let row = sqlx::query("SELECT value, served FROM revisions WHERE id = 1")
            .fetch_one(&mut *self.conn().await?)
            .await?;
        revision_of(&row)
    }

    /// Commits a write transaction, bumping the revision inside it, then announces it.
    pub(crate) async fn commit(
        &self,
        mut tx: Transaction<'static, Any>,
        touch: Touch<'_>,
    ) -> Result<()> {
        let scope = touch.scope();
        let sql = match scope {
            None => "UPDATE revisions SET value = value + 1 WHERE id = 1 RETURNING value, served",
            Some(_) => {
                "UPDATE revisions SET value = value + 1, served = value + 1 WHERE id = 1
                 RETURNING value, served"
            }
        };
        let row = sqlx::query(sql).fetch_one(&mut *tx).await?;
        let revision = revision_of(&row)?;
        if let Some(scope) = scope {
            let at = i64::try_from(revision.served).unwrap_or(i64::MAX);
            sqlx::query("INSERT INTO changes (revision, scope) VALUES ($1, $2)")
                .bind(at)
                .bind(scope)
                .execute(&mut *tx)
                .await?;
            if revision.served % 256 == 0 {
                sqlx::query("DELETE FROM changes WHERE revision <= $1")
                    .bind(at - CHANGES_KEPT as i64)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        // Concurrent commits may announce out of order; the feed only moves forward.
        self.feed.send_if_modified(|current| {
            let newer = revision > *current;
            if newer {
                *current = revision;
            }
            newer
        });
        Ok(())
    }

    /// Opens (creating it and its directory if missing) the SQLite database at `path`.
    pub async fn open_sqlite(path: &Path, key: SecretKey) -> Result<Store> {
        let path = std::path::absolute(path).map_err(sqlx::Error::Io)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        let Some(text) = path.to_str() else {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                format!("database path {} is not valid UTF-8", path.display()).into(),
            )));
        };
        Store::open(
            &format!("sqlite://{}?mode=rwc", percent_encode_path(text)),
            key,
        )
        .await
    }

    /// Closes every connection; later calls on any clone fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) async fn write_tx(&self) -> Result<Transaction<'static, Any>> {
        Ok(self.pool.begin_with(self.begin_write).await?)
    }

    pub(crate) async fn read_tx(&self) -> Result<Transaction<'static, Any>> {
        Ok(self.pool.begin_with(self.begin_read).await?)
    }

    pub(crate) async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Any>> {
        Ok(self.pool.acquire().await?)
    }
}

pub(crate) fn revision_of(row: &sqlx::any::AnyRow) -> Result<Revision> {
    use sqlx::Row;
    let value: i64 = row.try_get("value")?;
    let served: i64 = row.try_get("served")?;
    Ok(Revision {
        value: u64::try_from(value).unwrap_or(0),
        served: u64::try_from(served).unwrap_or(0),
    })
}

/// Escapes the characters a URL would otherwise read as delimiters.
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            ' ' => out.push_str("%20"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;
    use crate::fixtures::{api, group};

    #[tokio::test]
    async fn data_survives_closing_and_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested dir/pylon #1.db");
        let key = SecretKey::generate();
        let store = Store::open_sqlite(&path, key.clone()).await.unwrap();
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        let a = api("a", "g", "orders", None, 1);
        store.create_api(&a).await.unwrap();
        store.publish(&a, "TEST", "first", "d1", 2).await.unwrap();
        let before = store.load_snapshot().await.unwrap();
        store.close().await;
        drop(store);

        // Reopening runs the migrations again, which must be a no-op.
        let store = Store::open_sqlite(&path, key.clone()).await.unwrap();
        assert_eq!(store.load_snapshot().await.unwrap(), before);
        assert_eq!(
            store
                .publish(&a, "TEST", "", "d2", 3)
                .await
                .unwrap()
                .version,
            2
        );
        assert_eq!(store.list_environments().await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("p.db"), SecretKey::generate())
            .await
            .unwrap();
        let mut conn = store.conn().await.unwrap();
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(mode.to_ascii_lowercase(), "wal");
        let fk: i64 = sqlx::query("PRAGMA foreign_keys")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(fk, 1);
    }

    #[tokio::test]
    async fn every_write_moves_the_revision_and_served_writes_move_served() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let key = SecretKey::generate();
        let store = Store::open_sqlite(&path, key.clone()).await.unwrap();
        let mut feed = store.subscribe();
        let start = store.revision();
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        let after_group = store.revision();
        assert!(after_group.value > start.value);
        assert_eq!(
            after_group.served, after_group.value,
            "a group is served state"
        );
        assert!(feed.has_changed().unwrap());
        assert_eq!(*feed.borrow_and_update(), after_group);

        // A draft moves the revision, not `served`: the gateway has nothing to reload.
        let a = api("a", "g", "orders", None, 1);
        store.create_api(&a).await.unwrap();
        let after_draft = store.revision();
        assert_eq!(after_draft.value, after_group.value + 1);
        assert_eq!(after_draft.served, after_group.served);

        store.publish(&a, "TEST", "", "d1", 2).await.unwrap();
        let published = store.revision();
        assert_eq!(published.served, published.value);
        let (at, snapshot) = store.load_snapshot_at().await.unwrap();
        assert_eq!(at, published);
        assert_eq!(snapshot.deployments.len(), 1);

        // A refused write leaves the revision alone.
        assert!(store.create_group(&group("g", "shop", 1)).await.is_err());
        assert_eq!(store.revision(), published);
        store.unpublish("a", "TEST").await.unwrap();
        assert!(store.revision().served > published.served);

        // The revision survives a restart.
        let before = store.revision();
        store.close().await;
        let store = Store::open_sqlite(&path, key).await.unwrap();
        assert_eq!(store.revision(), before);
    }

    #[tokio::test]
    async fn open_accepts_a_sqlite_url() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("u.db").display());
        let store = Store::open(&url, SecretKey::generate()).await.unwrap();
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        assert_eq!(store.list_groups().await.unwrap().len(), 1);
    }
}
