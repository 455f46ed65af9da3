//! Apps and their credentials: AppKey/AppSecret pairs and AppCodes, the secrets sealed at rest
//! (see `secrets`). AppKeys and AppCodes are unique across all apps, since a request names only
//! the credential and the gateway finds the app from it.

use std::collections::HashMap;

use pylon_model::{App, AppCode, AppCredentials, AppKey};
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::Touch;
use crate::codec::{decode, decode_all, encode, on_unique};
use crate::error::{Result, StoreError, not_found};
use crate::groups::exists;
use crate::secrets::Sealer;

impl Store {
    /// Creates the app with its first key pair (`first_key.app_secret` must be set; its
    /// `app_id` is taken to be `app.id`). Name unique -> `Conflict`.
    pub async fn create_app(&self, app: &App, first_key: &AppKey) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if exists(&mut tx, "SELECT id FROM apps WHERE id = $1", &app.id).await? {
            return Err(StoreError::Conflict(format!(
                "an app with id `{}` already exists",
                app.id
            )));
        }
        if exists(
            &mut tx,
            "SELECT id FROM apps WHERE name = $1",
            &app.spec.name,
        )
        .await?
        {
            return Err(StoreError::Conflict(name_taken(&app.spec.name)));
        }
        sqlx::query("INSERT INTO apps (id, name, created_at, body) VALUES ($1, $2, $3, $4)")
            .bind(&app.id)
            .bind(&app.spec.name)
            .bind(app.created_at)
            .bind(encode(app)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| on_unique(e, || name_taken(&app.spec.name)))?;
        let key = AppKey {
            app_id: app.id.clone(),
            ..first_key.clone()
        };
        insert_key(&mut tx, &self.sealer, &key).await?;
        self.commit(tx, Touch::Access).await?;
        Ok(())
    }

    /// By id, else by name.
    pub async fn get_app(&self, id_or_name: &str) -> Result<App> {
        let row = sqlx::query(
            "SELECT body FROM apps WHERE id = $1 OR name = $1
             ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(id_or_name)
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .ok_or_else(|| not_found("app", id_or_name))?;
        decode(&row)
    }

    /// In creation order.
    pub async fn list_apps(&self) -> Result<Vec<App>> {
        list_apps(&mut *self.conn().await?).await
    }

    /// Removes the app with its keys, codes and authorizations.
    pub async fn delete_app(&self, id: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        check_app(&mut tx, id).await?;
        for sql in [
            "DELETE FROM authorizations WHERE app_id = $1",
            "DELETE FROM app_codes WHERE app_id = $1",
            "DELETE FROM app_keys WHERE app_id = $1",
            "DELETE FROM apps WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        // Its grants go too, in any group.
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// Adds a key pair to `key.app_id` (`app_secret` must be set). AppKey taken -> `Conflict`.
    pub async fn add_app_key(&self, key: &AppKey) -> Result<()> {
        let mut tx = self.write_tx().await?;
        check_app(&mut tx, &key.app_id).await?;
        insert_key(&mut tx, &self.sealer, key).await?;
        self.commit(tx, Touch::Access).await?;
        Ok(())
    }

    /// The app's keys in creation order, secrets left out.
    pub async fn list_app_keys(&self, app_id: &str) -> Result<Vec<AppKey>> {
        let mut conn = self.conn().await?;
        check_app(&mut conn, app_id).await?;
        let rows = sqlx::query(
            "SELECT app_key, created_at FROM app_keys WHERE app_id = $1
             ORDER BY created_at, app_key",
        )
        .bind(app_id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AppKey {
                    app_id: app_id.to_string(),
                    app_key: row.try_get("app_key")?,
                    app_secret: None,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// One key of the app with its secret decrypted.
    pub async fn get_app_key(&self, app_id: &str, app_key: &str) -> Result<AppKey> {
        let row = sqlx::query(
            "SELECT created_at, secret FROM app_keys WHERE app_id = $1 AND app_key = $2",
        )
        .bind(app_id)
        .bind(app_key)
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .ok_or_else(|| not_found("AppKey", app_key))?;
        let sealed: String = row.try_get("secret")?;
        Ok(AppKey {
            app_id: app_id.to_string(),
            app_key: app_key.to_string(),
            app_secret: Some(self.sealer.open(&key_row(app_id, app_key), &sealed)?),
            created_at: row.try_get("created_at")?,
        })
    }

    pub async fn delete_app_key(&self, app_id: &str, app_key: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM app_keys WHERE app_id = $1 AND app_key = $2")
            .bind(app_id)
            .bind(app_key)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(not_found("AppKey", app_key));
        }
        self.commit(tx, Touch::Access).await?;
        Ok(())
    }

    /// Adds an AppCode to `code.app_id`. A code already in use (by any app) -> `Conflict`.
    pub async fn add_app_code(&self, code: &AppCode) -> Result<()> {
        let lookup = self.sealer.lookup(&code.code);
        let taken = || "this AppCode is already in use".to_string();
        let mut tx = self.write_tx().await?;
        check_app(&mut tx, &code.app_id).await?;
        if exists(
            &mut tx,
            "SELECT app_id FROM app_codes WHERE lookup = $1",
            &lookup,
        )
        .await?
        {
            return Err(StoreError::Conflict(taken()));
        }
        let sealed = self
            .sealer
            .seal(&code_row(&code.app_id, &lookup), &code.code)?;
        sqlx::query(
            "INSERT INTO app_codes (lookup, app_id, created_at, code) VALUES ($1, $2, $3, $4)",
        )
        .bind(&lookup)
        .bind(&code.app_id)
        .bind(code.created_at)
        .bind(sealed)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, taken))?;
        self.commit(tx, Touch::Access).await?;
        Ok(())
    }

    /// The app's AppCodes in creation order, decrypted (they are shown, as Alibaba's console does).
    pub async fn list_app_codes(&self, app_id: &str) -> Result<Vec<AppCode>> {
        let mut conn = self.conn().await?;
        check_app(&mut conn, app_id).await?;
        let rows = sqlx::query(
            "SELECT lookup, app_id, created_at, code FROM app_codes WHERE app_id = $1
             ORDER BY created_at, lookup",
        )
        .bind(app_id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|row| open_code(&self.sealer, row))
            .collect()
    }

    pub async fn delete_app_code(&self, app_id: &str, code: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM app_codes WHERE app_id = $1 AND lookup = $2")
            .bind(app_id)
            .bind(self.sealer.lookup(code))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(not_found("AppCode", code));
        }
        self.commit(tx, Touch::Access).await?;
        Ok(())
    }
}

fn name_taken(name: &str) -> String {
    format!("an app named `{name}` already exists")
}

/// What a sealed AppSecret is bound to.
fn key_row<'a>(app_id: &'a str, app_key: &'a str) -> [&'a str; 3] {
    ["app_key", app_id, app_key]
}

/// What a sealed AppCode is bound to.
fn code_row<'a>(app_id: &'a str, lookup: &'a str) -> [&'a str; 3] {
    ["app_code", app_id, lookup]
}

pub(crate) async fn check_app(conn: &mut AnyConnection, id: &str) -> Result<()> {
    if !exists(conn, "SELECT id FROM apps WHERE id = $1", id).await? {
        return Err(not_found("app", id));
    }
    Ok(())
}

async fn insert_key(conn: &mut AnyConnection, sealer: &Sealer, key: &AppKey) -> Result<()> {
    let taken = || format!("AppKey `{}` already exists", key.app_key);
    let Some(secret) = &key.app_secret else {
        return Err(StoreError::Secret(format!(
            "AppKey `{}` has no AppSecret to store",
            key.app_key
        )));
    };
    if exists(
        conn,
        "SELECT app_key FROM app_keys WHERE app_key = $1",
        &key.app_key,
    )
    .await?
    {
        return Err(StoreError::Conflict(taken()));
    }
    let sealed = sealer.seal(&key_row(&key.app_id, &key.app_key), secret)?;
    sqlx::query(
        "INSERT INTO app_keys (app_key, app_id, created_at, secret) VALUES ($1, $2, $3, $4)",
    )
    .bind(&key.app_key)
    .bind(&key.app_id)
    .bind(key.created_at)
    .bind(sealed)
    .execute(conn)
    .await
    .map_err(|e| on_unique(e, taken))?;
    Ok(())
}

fn open_code(sealer: &Sealer, row: &sqlx::any::AnyRow) -> Result<AppCode> {
    let app_id: String = row.try_get("app_id")?;
    let lookup: String = row.try_get("lookup")?;
    let sealed: String = row.try_get("code")?;
    Ok(AppCode {
        code: sealer.open(&code_row(&app_id, &lookup), &sealed)?,
        app_id,
        created_at: row.try_get("created_at")?,
    })
}

async fn list_apps(conn: &mut AnyConnection) -> Result<Vec<App>> {
    let rows = sqlx::query("SELECT body FROM apps ORDER BY created_at, id")
        .fetch_all(conn)
        .await?;
    decode_all(&rows)
}

/// Every app with its credentials decrypted, apps and credentials in creation order.
pub(crate) async fn list_credentials(
    conn: &mut AnyConnection,
    sealer: &Sealer,
) -> Result<Vec<AppCredentials>> {
    let apps = list_apps(&mut *conn).await?;
    let mut keys: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let rows =
        sqlx::query("SELECT app_key, app_id, secret FROM app_keys ORDER BY created_at, app_key")
            .fetch_all(&mut *conn)
            .await?;
    for row in &rows {
        let app_id: String = row.try_get("app_id")?;
        let app_key: String = row.try_get("app_key")?;
        let sealed: String = row.try_get("secret")?;
        let secret = sealer.open(&key_row(&app_id, &app_key), &sealed)?;
        keys.entry(app_id).or_default().push((app_key, secret));
    }
    let mut codes: HashMap<String, Vec<String>> = HashMap::new();
    let rows = sqlx::query(
        "SELECT lookup, app_id, created_at, code FROM app_codes ORDER BY created_at, lookup",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in &rows {
        let code = open_code(sealer, row)?;
        codes.entry(code.app_id).or_default().push(code.code);
    }
    Ok(apps
        .into_iter()
        .map(|app| AppCredentials {
            keys: keys.remove(&app.id).unwrap_or_default(),
            codes: codes.remove(&app.id).unwrap_or_default(),
            app_id: app.id,
            name: app.spec.name,
        })
        .collect())
}

#[cfg(test)]
mod tests;
