//! The schema, as numbered migrations embedded in the binary and applied on open.
//!
//! Kept to portable SQL (TEXT/BIGINT/INTEGER, `REFERENCES`, `ON DELETE CASCADE`) so the same
//! statements run on SQLite and PostgreSQL. The applied versions live in `pylon_migrations`.

use sqlx::{AnyPool, Row};

use crate::error::Result;

struct Migration {
    version: i64,
    statements: &'static [&'static str],
}

const MIGRATIONS: &[Migration] = &[
    // 1: groups, environments, upstreams, backends, APIs and deployments.
    Migration {
        version: 1,
        statements: &[
            "CREATE TABLE groups (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            body TEXT NOT NULL)",
            "CREATE TABLE group_domains (
            domain TEXT PRIMARY KEY,
            group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE)",
            "CREATE INDEX group_domains_group ON group_domains (group_id)",
            // `seq` keeps environments in creation order, the builtin ones first.
            "CREATE TABLE environments (
            name TEXT PRIMARY KEY,
            builtin INTEGER NOT NULL,
            seq BIGINT NOT NULL,
            body TEXT NOT NULL)",
            "CREATE TABLE stage_variables (
            group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            environment TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
            body TEXT NOT NULL,
            PRIMARY KEY (group_id, environment))",
            "CREATE TABLE upstreams (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            body TEXT NOT NULL)",
            "CREATE TABLE backends (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            body TEXT NOT NULL)",
            // `upstream`: the upstream id or name an `upstream` definition names, so deleting an
            // upstream can find what still uses it.
            "CREATE TABLE backend_definitions (
            backend_id TEXT NOT NULL REFERENCES backends(id) ON DELETE CASCADE,
            environment TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
            upstream TEXT,
            body TEXT NOT NULL,
            PRIMARY KEY (backend_id, environment))",
            "CREATE INDEX backend_definitions_upstream ON backend_definitions (upstream)",
            // `backend_id`: the backend service the API refers to, if any (not inline).
            "CREATE TABLE apis (
            id TEXT PRIMARY KEY,
            group_id TEXT NOT NULL REFERENCES groups(id),
            name TEXT NOT NULL,
            backend_id TEXT,
            created_at BIGINT NOT NULL,
            body TEXT NOT NULL,
            UNIQUE (group_id, name))",
            "CREATE INDEX apis_backend ON apis (backend_id)",
            "CREATE TABLE deployments (
            id TEXT PRIMARY KEY,
            api_id TEXT NOT NULL REFERENCES apis(id) ON DELETE CASCADE,
            group_id TEXT NOT NULL,
            environment TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
            version BIGINT NOT NULL,
            backend_id TEXT,
            created_at BIGINT NOT NULL,
            body TEXT NOT NULL,
            UNIQUE (api_id, environment, version))",
            "CREATE INDEX deployments_backend ON deployments (backend_id)",
            // The active deployment of each (API, environment); no row = not published there.
            "CREATE TABLE published (
            api_id TEXT NOT NULL REFERENCES apis(id) ON DELETE CASCADE,
            environment TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
            deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
            PRIMARY KEY (api_id, environment))",
            "CREATE INDEX published_deployment ON published (deployment_id)",
            r#"INSERT INTO environments (name, builtin, seq, body) VALUES
            ('RELEASE', 1, 1, '{"name":"RELEASE","description":"Production","builtin":true}'),
            ('PRE', 1, 2, '{"name":"PRE","description":"Pre-release","builtin":true}'),
            ('TEST', 1, 3, '{"name":"TEST","description":"Test","builtin":true}')"#,
        ],
    },
    // 2: apps, their credentials and their authorizations.
    Migration {
        version: 2,
        statements: &[
            "CREATE TABLE apps (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL,
                body TEXT NOT NULL)",
            // `secret`: the AppSecret sealed by `secrets::Sealer`, bound to (app_id, app_key).
            "CREATE TABLE app_keys (
                app_key TEXT PRIMARY KEY,
                app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
                created_at BIGINT NOT NULL,
                secret TEXT NOT NULL)",
            "CREATE INDEX app_keys_app ON app_keys (app_id)",
            // `lookup`: keyed hash of the AppCode, to find it by value without storing it in
            // the clear; `code`: the AppCode sealed, bound to (app_id, lookup).
            "CREATE TABLE app_codes (
                lookup TEXT PRIMARY KEY,
                app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
                created_at BIGINT NOT NULL,
                code TEXT NOT NULL)",
            "CREATE INDEX app_codes_app ON app_codes (app_id)",
            "CREATE TABLE authorizations (
                id TEXT PRIMARY KEY,
                app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
                api_id TEXT NOT NULL REFERENCES apis(id) ON DELETE CASCADE,
                group_id TEXT NOT NULL,
                environment TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
                expires_at BIGINT,
                created_at BIGINT NOT NULL,
                body TEXT NOT NULL,
                UNIQUE (app_id, api_id, environment))",
            "CREATE INDEX authorizations_api ON authorizations (api_id)",
            "CREATE INDEX authorizations_environment ON authorizations (environment)",
        ],
    },
    // 3: the change feed's revision: `value` moves with every write, `served` with every
    // write that changes what the gateway serves (see `Store::subscribe`).
    Migration {
        version: 3,
        statements: &[
            "CREATE TABLE revisions (
                id INTEGER PRIMARY KEY,
                value BIGINT NOT NULL,
                served BIGINT NOT NULL)",
            "INSERT INTO revisions (id, value, served) VALUES (1, 0, 0)",
        ],
    },
    // 4: what each served revision changed (`Touch`), so a follower reloads only that.
    Migration {
        version: 4,
        statements: &["CREATE TABLE changes (
                revision BIGINT PRIMARY KEY,
                scope TEXT NOT NULL)"],
    },
    // 5: policies and their bindings to an API in an environment. `kind` is a column so that
    // "one policy of a kind per (API, environment)" is one indexed query.
    Migration {
        version: 5,
        statements: &[
            "CREATE TABLE policies (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                body TEXT NOT NULL)",
            // No cascade from `policies`: a bound policy cannot be deleted (the store says
            // which bindings hold it); deleting an API or an environment removes its bindings.
            "CREATE TABLE policy_bindings (
                policy_id TEXT NOT NULL REFERENCES policies(id),
                api_id TEXT NOT NULL REFERENCES apis(id) ON DELETE CASCADE,
                environment TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
                created_at BIGINT NOT NULL,
                body TEXT NOT NULL,
                PRIMARY KEY (policy_id, api_id, environment))",
            "CREATE INDEX policy_bindings_api ON policy_bindings (api_id, environment)",
            "CREATE INDEX policy_bindings_environment ON policy_bindings (environment)",
        ],
    },
    // 6: TLS certificates; `private_key` is sealed (`secrets::Sealer`), bound to the id.
    Migration {
        version: 6,
        statements: &["CREATE TABLE certificates (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL,
                body TEXT NOT NULL,
                private_key TEXT NOT NULL)"],
    },
    // 7: hosted functions; `secrets` is one sealed JSON map, bound to the id.
    Migration {
        version: 7,
        statements: &["CREATE TABLE functions (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL,
                body TEXT NOT NULL,
                secrets TEXT NOT NULL)"],
    },
];

/// Applies every migration not yet recorded, each in its own transaction.
pub(crate) async fn migrate(pool: &AnyPool, begin_write: &'static str) -> Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS pylon_migrations (
            version BIGINT PRIMARY KEY,
            applied_at BIGINT NOT NULL)",
    )
    .execute(pool)
    .await?;
    for migration in MIGRATIONS {
        let mut tx = pool.begin_with(begin_write).await?;
        // Checked inside the write transaction so two processes opening the same fresh
        // database do not both apply it.
        let applied = sqlx::query("SELECT version FROM pylon_migrations WHERE version = $1")
            .bind(migration.version)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get::<i64, _>("version"))
            .transpose()?
            .is_some();
        if applied {
            continue;
        }
        for statement in migration.statements {
            sqlx::query(*statement).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO pylon_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(migration.version)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
