//! A real Azure Blob Storage service for Bucket sources with `provider:
//! azure`: Microsoft's Azurite emulator (npm, installed by
//! `scripts/install-deps.sh`) with one storage account of its own key.
//! Containers, blobs and SAS tokens are written by Microsoft's JavaScript
//! SDK (`@azure/storage-blob`), an independent client, so the service
//! computes ETags and checks signatures as it does for any client.

use std::fs;

use base64::Engine as _;
use std::process::Command;
use std::time::Duration;

use crate::error::{Result, io};
use crate::process::{Supervisor, free_port, port_open, run, tool};

/// The account of every server.
const ACCOUNT: &str = "fluxaccount";

/// The SDK calls the helpers make: `node azure.js <op> <json args>`.
const SCRIPT: &str = r#"
const { BlobServiceClient, StorageSharedKeyCredential, ContainerSASPermissions,
        generateBlobSASQueryParameters } = require("@azure/storage-blob");
const fs = require("fs");
const [op, json] = process.argv.slice(2);
const a = JSON.parse(json);
const credential = new StorageSharedKeyCredential(a.account, a.key);
const service = new BlobServiceClient(a.endpoint, credential);
(async () => {
  const container = service.getContainerClient(a.container);
  if (op === "create") {
    await container.create();
  } else if (op === "put") {
    const data = fs.readFileSync(a.file);
    await container.getBlockBlobClient(a.blob).upload(data, data.length);
  } else if (op === "delete") {
    await container.getBlockBlobClient(a.blob).delete();
  } else if (op === "etag") {
    const props = await container.getBlobClient(a.blob).getProperties();
    process.stdout.write(props.etag);
  } else if (op === "sas") {
    const expiresOn = new Date(Date.now() + 24 * 3600 * 1000);
    const sas = generateBlobSASQueryParameters({ containerName: a.container,
      permissions: ContainerSASPermissions.parse("rl"), expiresOn }, credential);
    process.stdout.write(sas.toString());
  } else {
    throw new Error("unknown operation " + op);
  }
})().catch((e) => { console.error(e.message); process.exit(1); });
"#;

/// A running Azurite blob service on `http://127.0.0.1:PORT/<account>`.
pub struct AzureBlobServer {
    supervisor: Supervisor,
    port: u16,
    key: String,
}

impl std::fmt::Debug for AzureBlobServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureBlobServer")
            .field("port", &self.port)
            .finish()
    }
}

impl AzureBlobServer {
    /// Starts the emulator with account `fluxaccount` and a fresh key.
    pub fn start() -> Result<Self> {
        let binary = tool("azurite-blob")?;
        let mut supervisor = Supervisor::new("azurite")?;
        let dir = supervisor.dir().to_path_buf();
        let data = dir.join("data");
        fs::create_dir_all(&data).map_err(io("creating the Azurite data folder"))?;
        fs::write(dir.join("azure.js"), SCRIPT).map_err(io("writing the SDK script"))?;
        let key = account_key();
        let port = free_port()?;
        let mut command = Command::new(binary);
        command
            .env("AZURITE_ACCOUNTS", format!("{ACCOUNT}:{key}"))
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(&data)
            .arg("--debug")
            .arg(dir.join("debug.log"))
            .args(["--disableTelemetry", "--skipApiVersionCheck"]);
        supervisor.spawn("azurite", command)?;
        supervisor.wait_until("azurite", Duration::from_secs(60), |_| port_open(port))?;
        Ok(Self {
            supervisor,
            port,
            key,
        })
    }

    /// `http://127.0.0.1:PORT/fluxaccount`: a Bucket's `spec.endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// The storage account's name.
    pub fn account(&self) -> &str {
        ACCOUNT
    }

    /// The account key (base64).
    pub fn account_key(&self) -> &str {
        &self.key
    }

    /// Creates container `name`.
    pub fn create_container(&self, name: &str) -> Result<()> {
        self.sdk("create", serde_json::json!({"container": name}))
            .map(|_| ())
    }

    /// Writes blob `name` of `container`.
    pub fn put(&self, container: &str, name: &str, content: &[u8]) -> Result<()> {
        let file = self.supervisor.dir().join("upload");
        fs::write(&file, content).map_err(io("writing the blob to upload"))?;
        self.sdk(
            "put",
            serde_json::json!({"container": container, "blob": name, "file": file}),
        )
        .map(|_| ())
    }

    /// Deletes blob `name` of `container`.
    pub fn delete(&self, container: &str, name: &str) -> Result<()> {
        self.sdk(
            "delete",
            serde_json::json!({"container": container, "blob": name}),
        )
        .map(|_| ())
    }

    /// The ETag the service reports for blob `name` (quoted, as Get Blob
    /// returns it).
    pub fn etag(&self, container: &str, name: &str) -> Result<String> {
        self.sdk(
            "etag",
            serde_json::json!({"container": container, "blob": name}),
        )
    }

    /// A SAS token (query string, read and list) for `container`, valid a
    /// day.
    pub fn container_sas(&self, container: &str) -> Result<String> {
        self.sdk("sas", serde_json::json!({"container": container}))
    }

    fn sdk(&self, op: &str, mut args: serde_json::Value) -> Result<String> {
        args["account"] = ACCOUNT.into();
        args["key"] = self.key.clone().into();
        args["endpoint"] = self.endpoint().into();
        let modules = tool("azurite-modules")?;
        run(Command::new("node")
            .env("NODE_PATH", modules)
            .arg(self.supervisor.dir().join("azure.js"))
            .arg(op)
            .arg(args.to_string()))
    }
}

/// 64 random bytes, base64: a storage account key.
fn account_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = Vec::with_capacity(64);
    while bytes.len() < 64 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_usize(bytes.len());
        bytes.extend(hasher.finish().to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
