//! `pylon certificate`: TLS certificates the HTTPS listener (`--tls-listen`) presents, picked
//! by the name the client asks for (SNI).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use http::Method;
use serde_json::json;

use super::{Ctx, output, seg};

const COLUMNS: &[output::Column] = &[
    ("NAME", "/name"),
    ("DOMAINS", "/domains"),
    ("ISSUER", "/issuer"),
    ("KEY", "/key_type"),
    ("EXPIRES", "/expires_at"),
    ("DEFAULT", "/default"),
];

/// The chain and key files an upload reads.
#[derive(Args, Debug)]
pub struct PemFiles {
    /// PEM file: the server certificate first, then the intermediates.
    #[arg(long = "cert", value_name = "FILE")]
    cert: PathBuf,
    /// PEM file of the private key (RSA, ECDSA or Ed25519). Stored encrypted, never shown.
    #[arg(long = "key", value_name = "FILE")]
    key: PathBuf,
}

impl PemFiles {
    /// The chain and the key, as text.
    fn read(&self) -> anyhow::Result<(String, String)> {
        Ok((read_pem(&self.cert)?, read_pem(&self.key)?))
    }
}

#[derive(Subcommand, Debug)]
pub enum CertificateCommand {
    /// Upload a certificate chain and its private key (PEM files). It serves the host names
    /// the certificate lists from the next handshake on; no restart.
    Add {
        /// The certificate's name, unique (not a host name).
        name: String,
        #[command(flatten)]
        pem: PemFiles,
        /// Also serve it to clients that send no server name (SNI) or an unknown one.
        #[arg(long)]
        default: bool,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List certificates: the names they serve, issuer and expiry.
    List,
    /// Show a certificate (by id or name); the key is never shown.
    Get {
        /// The certificate (id or name).
        certificate: String,
    },
    /// Replace a certificate's chain and key (a renewal). Open connections keep the old one;
    /// new handshakes get the new one.
    Replace {
        /// The certificate (id or name).
        certificate: String,
        #[command(flatten)]
        pem: PemFiles,
        /// Serve it to clients without SNI (off unless given again).
        #[arg(long)]
        default: bool,
    },
    /// Delete a certificate; refused while a domain is bound to it.
    Delete {
        /// The certificate (id or name).
        certificate: String,
    },
}

pub async fn certificate(ctx: &Ctx, command: CertificateCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    match command {
        CertificateCommand::Add {
            name,
            pem,
            default,
            description,
        } => {
            let (certificate, private_key) = pem.read()?;
            let body = json!({
                "name": name,
                "description": description,
                "certificate": certificate,
                "private_key": private_key,
                "default": default,
            });
            let created = c.send(Method::POST, "/v1/certificates", &body).await?;
            output::list(ctx.format, &json!([created]), COLUMNS)
        }
        CertificateCommand::List => {
            output::list(ctx.format, &c.get("/v1/certificates").await?, COLUMNS)
        }
        CertificateCommand::Get { certificate } => {
            let path = format!("/v1/certificates/{}", seg(&certificate));
            output::object(ctx.format, &c.get(&path).await?)
        }
        CertificateCommand::Replace {
            certificate,
            pem,
            default,
        } => {
            let (chain, private_key) = pem.read()?;
            let path = format!("/v1/certificates/{}", seg(&certificate));
            let current = c.get(&path).await?;
            let body = json!({
                "name": current["name"],
                "description": current["description"],
                "certificate": chain,
                "private_key": private_key,
                "default": default,
            });
            let replaced = c.send(Method::PUT, &path, &body).await?;
            output::list(ctx.format, &json!([replaced]), COLUMNS)
        }
        CertificateCommand::Delete { certificate } => {
            c.delete(&format!("/v1/certificates/{}", seg(&certificate)))
                .await?;
            println!("deleted certificate {certificate}");
            Ok(())
        }
    }
}

fn read_pem(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}
