//! Hosted functions: the spec as the JSON record (secret names only), the secret values sealed
//! as one JSON map in their own column, bound to the function's id.

use std::collections::BTreeMap;

use pylon_model::{BackendDefinition, BackendEnvironment, Function, FunctionSpec, ServedFunction};
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::Touch;
use crate::apis::apis_inlining;
use crate::codec::{check_name_free, decode, decode_all, encode, on_unique};
use crate::error::{Result, StoreError, not_found};
use crate::secrets::Sealer;

impl Store {
    /// Stores `f` with `secrets` sealed.
    pub async fn create_function(
        &self,
        f: &Function,
        secrets: &BTreeMap<String, String>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        name_free(&mut tx, f).await?;
        let sealed = self.sealer.seal(&key_row(&f.id), &secrets_json(secrets)?)?;
        sqlx::query(
            "INSERT INTO functions (id, name, created_at, body, secrets) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&f.id)
        .bind(&f.name)
        .bind(f.created_at)
        .bind(encode(f)?)
        .bind(sealed)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, || name_taken(&f.name)))?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// Replaces the function with `f.id`; `secrets: None` keeps the sealed ones. A rename is
    /// refused while backends name the function.
    pub async fn update_function(
        &self,
        f: &Function,
        secrets: Option<&BTreeMap<String, String>>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let old = get_by_id(&mut tx, &f.id).await?;
        name_free(&mut tx, f).await?;
        if old.name != f.name {
            let users = users_of(&mut tx, &old.name).await?;
            if let Some(first) = users.first() {
                return Err(StoreError::Conflict(format!(
                    "function `{}` is used by {first}; it cannot be renamed while in use",
                    old.name
                )));
            }
        }
        let mut f = f.clone();
        let sealed = match secrets {
            Some(secrets) => {
                f.secrets = secrets.keys().cloned().collect();
                Some(self.sealer.seal(&key_row(&f.id), &secrets_json(secrets)?)?)
            }
            None => {
                f.secrets = old.secrets;
                None
            }
        };
        sqlx::query(
            "UPDATE functions SET name = $1, body = $2, secrets = COALESCE($3, secrets) WHERE id = $4",
        )
        .bind(&f.name)
        .bind(encode(&f)?)
        .bind(sealed)
        .bind(&f.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, || name_taken(&f.name)))?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// By id first, else by name.
    pub async fn get_function(&self, id_or_name: &str) -> Result<Function> {
        let row = sqlx::query(
            "SELECT body FROM functions WHERE id = $1 OR name = $1
             ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(id_or_name)
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .ok_or_else(|| not_found("function", id_or_name))?;
        decode(&row)
    }

    /// In creation order.
    pub async fn list_functions(&self) -> Result<Vec<Function>> {
        let rows = sqlx::query("SELECT body FROM functions ORDER BY created_at, id")
            .fetch_all(&mut *self.conn().await?)
            .await?;
        decode_all(&rows)
    }

    /// Refused while a backend definition or an API names the function.
    pub async fn delete_function(&self, id: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let f = get_by_id(&mut tx, id).await?;
        let users = users_of(&mut tx, &f.name).await?;
        if !users.is_empty() {
            return Err(StoreError::Conflict(format!(
                "function `{}` is still used by {}; change those backends first",
                f.name,
                users.join(", ")
            )));
        }
        sqlx::query("DELETE FROM functions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }
}

/// Every function with its secrets opened, for the data plane.
pub(crate) async fn list_served(
    conn: &mut AnyConnection,
    sealer: &Sealer,
) -> Result<Vec<ServedFunction>> {
    let rows = sqlx::query("SELECT body, secrets FROM functions ORDER BY created_at, id")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            let f: Function = decode(row)?;
            let sealed: String = row.try_get("secrets")?;
            let secrets: BTreeMap<String, String> =
                serde_json::from_str(&sealer.open(&key_row(&f.id), &sealed)?)?;
            Ok(ServedFunction {
                id: f.id,
                updated_at: f.updated_at,
                spec: FunctionSpec {
                    name: f.name,
                    description: f.description,
                    command: f.command,
                    working_dir: f.working_dir,
                    environment: f.environment,
                    secrets,
                    handler: f.handler,
                    timeout_ms: f.timeout_ms,
                    max_concurrency: f.max_concurrency,
                    memory_mb: f.memory_mb,
                },
            })
        })
        .collect()
}

fn secrets_json(secrets: &BTreeMap<String, String>) -> Result<String> {
    Ok(serde_json::to_string(secrets)?)
}

async fn get_by_id(conn: &mut AnyConnection, id: &str) -> Result<Function> {
    crate::codec::fetch_one(
        conn,
        "SELECT body FROM functions WHERE id = $1",
        id,
        "function",
    )
    .await
}

fn key_row(id: &str) -> [&str; 2] {
    ["functions", id]
}

fn name_taken(name: &str) -> String {
    format!("a function named `{name}` already exists")
}

async fn name_free(conn: &mut AnyConnection, f: &Function) -> Result<()> {
    let sql = "SELECT id FROM functions WHERE name = $1 AND id <> $2";
    check_name_free(conn, sql, &f.name, &f.id, || name_taken(&f.name)).await
}

/// "backend `b` in ENV" and "API `a`" for each definition that runs the function.
async fn users_of(conn: &mut AnyConnection, name: &str) -> Result<Vec<String>> {
    let hosts = |d: &BackendDefinition| matches!(d, BackendDefinition::Function { hosted: Some(h), .. } if h == name);
    // A cheap filter first; the records are then checked exactly.
    let filter = "%hosted%";
    let mut users = Vec::new();
    let rows = sqlx::query(
        "SELECT b.name, d.body FROM backend_definitions d JOIN backends b ON b.id = d.backend_id
         WHERE d.body LIKE $1",
    )
    .bind(filter)
    .fetch_all(&mut *conn)
    .await?;
    for row in &rows {
        let d: BackendEnvironment = decode(row)?;
        if hosts(&d.definition) {
            let backend: String = row.try_get("name")?;
            users.push(format!("backend `{backend}` in {}", d.environment));
        }
    }
    users.extend(apis_inlining(conn, filter, hosts).await?);
    Ok(users)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use pylon_model::{
        BackendDefinition, BackendEnvironment, BackendKind, Function, FunctionFormat,
    };

    use crate::StoreError;
    use crate::fixtures::{backend, temp_store};

    fn function(id: &str, name: &str) -> Function {
        Function {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            command: vec!["python3".into(), "-m".into(), "awslambdaric".into()],
            working_dir: None,
            environment: BTreeMap::from([("MODE".into(), "test".into())]),
            secrets: vec!["TOKEN".into()],
            handler: "app.handler".into(),
            timeout_ms: 3000,
            max_concurrency: 2,
            memory_mb: 128,
            created_at: 1,
            updated_at: 1,
        }
    }

    #[tokio::test]
    async fn secrets_are_sealed_kept_across_updates_and_opened_for_the_data_plane() {
        let (dir, store) = temp_store().await;
        let secrets = BTreeMap::from([("TOKEN".to_string(), "s3cret-value".to_string())]);
        store
            .create_function(&function("f1", "echo"), &secrets)
            .await
            .unwrap();
        let raw = std::fs::read(dir.path().join("pylon.db")).unwrap();
        assert!(
            !raw.windows(12).any(|w| w == b"s3cret-value"),
            "the secret is sealed in the file"
        );
        let mut changed = function("f1", "echo");
        changed.timeout_ms = 5000;
        store.update_function(&changed, None).await.unwrap();
        let shown = store.get_function("echo").await.unwrap();
        assert_eq!(shown.timeout_ms, 5000);
        assert_eq!(shown.secrets, ["TOKEN"]);
        let served = store.load_snapshot().await.unwrap().functions;
        assert_eq!(served.len(), 1);
        assert_eq!(served[0].spec.secrets, secrets);
        assert_eq!(served[0].spec.timeout_ms, 5000);

        store
            .update_function(&changed, Some(&BTreeMap::new()))
            .await
            .unwrap();
        assert!(store.get_function("f1").await.unwrap().secrets.is_empty());
        assert!(
            store.load_snapshot().await.unwrap().functions[0]
                .spec
                .secrets
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_function_a_backend_runs_cannot_be_deleted_or_renamed() {
        let (_dir, store) = temp_store().await;
        store
            .create_function(&function("f1", "echo"), &BTreeMap::new())
            .await
            .unwrap();
        store
            .create_backend(&backend("b", "fn", BackendKind::Function, 1))
            .await
            .unwrap();
        let definition = BackendDefinition::Function {
            format: FunctionFormat::AwsLambda,
            response_integration: true,
            url: None,
            upstream: None,
            hosted: Some("echo".into()),
            name: None,
            tls: None,
            timeout_ms: None,
            payload_version: None,
        };
        store
            .put_backend_definition(&BackendEnvironment {
                backend_id: "b".into(),
                environment: "TEST".into(),
                definition,
                updated_at: 1,
            })
            .await
            .unwrap();
        let err = store.delete_function("f1").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "function `echo` is still used by backend `fn` in TEST; change those backends first"
        );
        assert!(matches!(
            store.update_function(&function("f1", "echo2"), None).await,
            Err(StoreError::Conflict(_))
        ));
        store
            .delete_backend_definition("b", "TEST", &[])
            .await
            .unwrap();
        store.delete_function("f1").await.unwrap();
        assert!(matches!(
            store.get_function("echo").await,
            Err(StoreError::NotFound { .. })
        ));
    }
}
