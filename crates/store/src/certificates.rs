//! TLS certificates: the chain and what it says as the JSON record, the private key sealed
//! in its own column (bound to the certificate's id), never in the record.

use pylon_model::{
    Api, BackendEnvironment, BackendTarget, BackendTls, Certificate, Group, ServedCertificate,
    Upstream,
};
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::Touch;
use crate::codec::{check_name_free, decode, decode_all, fetch_one, on_unique};
use crate::error::{Result, StoreError, not_found};
use crate::secrets::Sealer;

impl Store {
    /// Stores `c` with its private key sealed. Refused when the name is taken or another
    /// certificate is already the default.
    pub async fn create_certificate(&self, c: &Certificate, private_key: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        name_free(&mut tx, c).await?;
        default_free(&mut tx, c).await?;
        let sealed = self.sealer.seal(&key_row(&c.id), private_key)?;
        sqlx::query(
            "INSERT INTO certificates (id, name, created_at, body, private_key)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.created_at)
        .bind(crate::codec::encode(c)?)
        .bind(sealed)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, || name_taken(&c.name)))?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// Replaces the chain and key of the certificate with `c.id`. Refused when a domain bound
    /// to it is not among the new chain's names, or when it is renamed while bound.
    pub async fn replace_certificate(&self, c: &Certificate, private_key: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let old: Certificate = get_by_id(&mut tx, &c.id).await?;
        name_free(&mut tx, c).await?;
        default_free(&mut tx, c).await?;
        let bound = domains_bound_to(&mut tx, &old.name).await?;
        if old.name != c.name {
            let mut users: Vec<String> = bound
                .iter()
                .map(|(domain, group)| format!("domain `{domain}` (group `{group}`)"))
                .collect();
            users.extend(backends_presenting(&mut tx, &old.name).await?);
            if let Some(user) = users.first() {
                return Err(StoreError::Conflict(format!(
                    "certificate `{}` is used by {user}; it cannot be renamed while in use",
                    old.name
                )));
            }
        }
        if let Some((domain, group)) = bound.iter().find(|(d, _)| !c.covers(d)) {
            return Err(StoreError::Conflict(format!(
                "the new certificate is not valid for `{domain}` (group `{group}`), which is \
                 bound to `{}`; it lists {}",
                old.name,
                c.domains.join(", ")
            )));
        }
        let sealed = self.sealer.seal(&key_row(&c.id), private_key)?;
        sqlx::query("UPDATE certificates SET name = $1, body = $2, private_key = $3 WHERE id = $4")
            .bind(&c.name)
            .bind(crate::codec::encode(c)?)
            .bind(sealed)
            .bind(&c.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| on_unique(e, || name_taken(&c.name)))?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// By id first, else by name.
    pub async fn get_certificate(&self, id_or_name: &str) -> Result<Certificate> {
        get_certificate(&mut *self.conn().await?, id_or_name).await
    }

    /// In creation order.
    pub async fn list_certificates(&self) -> Result<Vec<Certificate>> {
        let rows = sqlx::query("SELECT body FROM certificates ORDER BY created_at, id")
            .fetch_all(&mut *self.conn().await?)
            .await?;
        decode_all(&rows)
    }

    /// Refused while a domain is bound to it.
    pub async fn delete_certificate(&self, id: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let c: Certificate = get_by_id(&mut tx, id).await?;
        let users = backends_presenting(&mut tx, &c.name).await?;
        if !users.is_empty() {
            return Err(StoreError::Conflict(format!(
                "certificate `{}` is the client certificate of {}; change their TLS settings first",
                c.name,
                users.join(", ")
            )));
        }
        let bound = domains_bound_to(&mut tx, &c.name).await?;
        if !bound.is_empty() {
            let list: Vec<String> = bound
                .iter()
                .map(|(domain, group)| format!("`{domain}` (group `{group}`)"))
                .collect();
            return Err(StoreError::Conflict(format!(
                "certificate `{}` is bound to domain {}; unbind it first \
                 (pylon group remove-domain, then add-domain without --certificate)",
                c.name,
                list.join(", ")
            )));
        }
        sqlx::query("DELETE FROM certificates WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }
}

/// Every certificate with its key opened, for the data plane.
pub(crate) async fn list_served(
    conn: &mut AnyConnection,
    sealer: &Sealer,
) -> Result<Vec<ServedCertificate>> {
    let rows =
        sqlx::query("SELECT id, body, private_key FROM certificates ORDER BY created_at, id")
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|row| {
            let c: Certificate = decode(row)?;
            let sealed: String = row.try_get("private_key")?;
            Ok(ServedCertificate {
                private_key: sealer.open(&key_row(&c.id), &sealed)?,
                id: c.id,
                name: c.name,
                certificate: c.certificate,
                default: c.default,
                updated_at: c.updated_at,
            })
        })
        .collect()
}

/// Checks, in a group's write, that every certificate its domains name exists and is valid
/// for the domain: the HTTPS listener would otherwise have nothing right to present.
pub(crate) async fn check_bindings(conn: &mut AnyConnection, g: &Group) -> Result<()> {
    for d in &g.domains {
        let Some(name) = &d.certificate else { continue };
        let c = match get_certificate(&mut *conn, name).await {
            Err(StoreError::NotFound { .. }) => {
                return Err(StoreError::Conflict(format!(
                    "certificate `{name}` does not exist (upload it with `pylon certificate add`)"
                )));
            }
            other => other?,
        };
        if c.name != *name {
            return Err(StoreError::Conflict(format!(
                "name the certificate `{}` by its name, not its id",
                c.name
            )));
        }
        if !c.covers(&d.name) {
            return Err(StoreError::Conflict(format!(
                "certificate `{name}` is not valid for `{}`: it lists {}",
                d.name,
                c.domains.join(", ")
            )));
        }
    }
    Ok(())
}

async fn get_certificate(conn: &mut AnyConnection, id_or_name: &str) -> Result<Certificate> {
    let row = sqlx::query(
        "SELECT body FROM certificates WHERE id = $1 OR name = $1
         ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1",
    )
    .bind(id_or_name)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| not_found("certificate", id_or_name))?;
    decode(&row)
}

async fn get_by_id(conn: &mut AnyConnection, id: &str) -> Result<Certificate> {
    fetch_one(
        conn,
        "SELECT body FROM certificates WHERE id = $1",
        id,
        "certificate",
    )
    .await
}

/// (domain, group name) for each custom domain bound to the certificate named `name`.
async fn domains_bound_to(conn: &mut AnyConnection, name: &str) -> Result<Vec<(String, String)>> {
    // Read here rather than through `groups`, which checks bindings with this module.
    let rows = sqlx::query("SELECT body FROM groups ORDER BY created_at, id")
        .fetch_all(conn)
        .await?;
    let groups: Vec<Group> = decode_all(&rows)?;
    Ok(groups
        .iter()
        .flat_map(|g| {
            g.domains
                .iter()
                .filter(|d| d.certificate.as_deref() == Some(name))
                .map(|d| (d.name.clone(), g.name.clone()))
        })
        .collect())
}

/// What presents the certificate named `name` to its backends (`tls.client_certificate`):
/// upstreams, backend definitions and API drafts with an inline backend, as "upstream `x`".
async fn backends_presenting(conn: &mut AnyConnection, name: &str) -> Result<Vec<String>> {
    let presents =
        |tls: Option<&BackendTls>| tls.and_then(|t| t.client_certificate.as_deref()) == Some(name);
    // A cheap filter first; the records are then checked exactly.
    let filter = "%client_certificate%";
    let mut users = Vec::new();
    let rows = sqlx::query("SELECT body FROM upstreams WHERE body LIKE $1")
        .bind(filter)
        .fetch_all(&mut *conn)
        .await?;
    for u in decode_all::<Upstream>(&rows)? {
        if presents(u.spec.tls.as_ref()) {
            users.push(format!("upstream `{}`", u.spec.name));
        }
    }
    let rows = sqlx::query(
        "SELECT b.name, d.body FROM backend_definitions d JOIN backends b ON b.id = d.backend_id
         WHERE d.body LIKE $1",
    )
    .bind(filter)
    .fetch_all(&mut *conn)
    .await?;
    for row in &rows {
        let d: BackendEnvironment = decode(row)?;
        if presents(d.definition.tls()) {
            let backend: String = row.try_get("name")?;
            users.push(format!("backend `{backend}` in {}", d.environment));
        }
    }
    let rows = sqlx::query("SELECT body FROM apis WHERE body LIKE $1")
        .bind(filter)
        .fetch_all(&mut *conn)
        .await?;
    for api in decode_all::<Api>(&rows)? {
        if let BackendTarget::Inline(d) = &api.spec.backend.service
            && presents(d.tls())
        {
            users.push(format!("API `{}`", api.spec.name));
        }
    }
    Ok(users)
}

fn key_row(id: &str) -> [&str; 2] {
    ["certificates", id]
}

fn name_taken(name: &str) -> String {
    format!("a certificate named `{name}` already exists")
}

async fn name_free(conn: &mut AnyConnection, c: &Certificate) -> Result<()> {
    let sql = "SELECT id FROM certificates WHERE name = $1 AND id <> $2";
    check_name_free(conn, sql, &c.name, &c.id, || name_taken(&c.name)).await
}

/// At most one certificate is served to clients without SNI.
async fn default_free(conn: &mut AnyConnection, c: &Certificate) -> Result<()> {
    if !c.default {
        return Ok(());
    }
    let rows = sqlx::query("SELECT body FROM certificates WHERE id <> $1")
        .bind(&c.id)
        .fetch_all(conn)
        .await?;
    let others: Vec<Certificate> = decode_all(&rows)?;
    match others.iter().find(|o| o.default) {
        Some(other) => Err(StoreError::Conflict(format!(
            "certificate `{}` is already the default; replace it without `default` first",
            other.name
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use pylon_model::Domain;

    use super::*;
    use crate::SecretKey;
    use crate::fixtures::group;

    fn cert(id: &str, name: &str, domains: &[&str], default: bool) -> Certificate {
        Certificate {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            certificate: "-----BEGIN CERTIFICATE-----".into(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
            subject: "CN=x".into(),
            issuer: "CN=ca".into(),
            key_type: "ECDSA".into(),
            not_before: 0,
            expires_at: 1,
            default,
            created_at: 1,
            updated_at: 1,
        }
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("c.db"), SecretKey::generate())
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn the_key_is_sealed_at_rest_and_opened_for_the_data_plane() {
        let (_dir, store) = store().await;
        let c = cert("c1", "shop", &["api.example.com"], false);
        store
            .create_certificate(&c, "PRIVATE KEY PEM")
            .await
            .unwrap();
        let raw: String = sqlx::query("SELECT body || private_key AS all_text FROM certificates")
            .fetch_one(&mut *store.conn().await.unwrap())
            .await
            .unwrap()
            .try_get("all_text")
            .unwrap();
        assert!(!raw.contains("PRIVATE KEY PEM"), "{raw}");
        let snapshot = store.load_snapshot().await.unwrap();
        assert_eq!(snapshot.certificates.len(), 1);
        assert_eq!(snapshot.certificates[0].private_key, "PRIVATE KEY PEM");
        assert_eq!(store.get_certificate("shop").await.unwrap(), c);
    }

    #[tokio::test]
    async fn one_default_and_unique_names() {
        let (_dir, store) = store().await;
        store
            .create_certificate(&cert("c1", "a", &["a.example.com"], true), "k")
            .await
            .unwrap();
        let e = store
            .create_certificate(&cert("c2", "b", &["b.example.com"], true), "k")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("`a` is already the default"), "{e}");
        let e = store
            .create_certificate(&cert("c3", "a", &["b.example.com"], false), "k")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
    }

    #[tokio::test]
    async fn a_bound_certificate_is_kept_valid_for_its_domains() {
        let (_dir, store) = store().await;
        store
            .create_certificate(&cert("c1", "shop", &["*.example.com"], false), "k")
            .await
            .unwrap();
        let mut g = group("g", "shop", 1);
        g.domains.push(Domain {
            name: "other.test".into(),
            certificate: Some("shop".into()),
            ..Default::default()
        });
        let e = store.create_group(&g).await.unwrap_err();
        assert!(e.to_string().contains("not valid for `other.test`"), "{e}");
        g.domains[0].name = "api.example.com".into();
        store.create_group(&g).await.unwrap();

        let e = store.delete_certificate("c1").await.unwrap_err();
        assert!(
            e.to_string().contains("`api.example.com` (group `shop`)"),
            "{e}"
        );
        let narrower = cert("c1", "shop", &["www.example.com"], false);
        let e = store.replace_certificate(&narrower, "k").await.unwrap_err();
        assert!(
            e.to_string().contains("not valid for `api.example.com`"),
            "{e}"
        );
        let renamed = cert("c1", "renamed", &["*.example.com"], false);
        let e = store.replace_certificate(&renamed, "k").await.unwrap_err();
        assert!(
            e.to_string().contains("cannot be renamed while in use"),
            "{e}"
        );

        let mut g2 = group("g2", "other", 2);
        g2.domains.push(Domain {
            name: "x.example.com".into(),
            certificate: Some("missing".into()),
            ..Default::default()
        });
        let e = store.create_group(&g2).await.unwrap_err();
        assert!(e.to_string().contains("`missing` does not exist"), "{e}");
    }
}
