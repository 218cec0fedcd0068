//! Content digests in the OCI form `<algorithm>:<hex>` (`sha256:…`), as
//! artifacts carry them in `status.artifact.digest`.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use crate::error::Error;

/// A SHA-256 digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut hasher = Digester::default();
        hasher.update(bytes);
        hasher.finish()
    }

    /// The digest of everything `reader` yields.
    pub fn of_reader(mut reader: impl Read) -> io::Result<Self> {
        let mut hasher = Digester::default();
        io::copy(&mut reader, &mut hasher)?;
        Ok(hasher.finish())
    }

    /// The hex-encoded value, without the algorithm.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl FromStr for Digest {
    type Err = Error;

    /// Parses `sha256:<64 hex>`; other algorithms are refused by name.
    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidDigest {
            digest: s.to_string(),
            reason: reason.to_string(),
        };
        let (algorithm, hex) = s
            .split_once(':')
            .ok_or_else(|| invalid("expected <algorithm>:<hex>"))?;
        if algorithm != "sha256" {
            return Err(invalid(&format!("unsupported algorithm {algorithm:?}")));
        }
        if hex.len() != 64 {
            return Err(invalid("a sha256 digest has 64 hex digits"));
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| invalid("not hexadecimal"))?;
        }
        Ok(Self(bytes))
    }
}

/// An incremental SHA-256 that is also an [`io::Write`] sink.
#[derive(Default)]
pub struct Digester {
    hasher: Sha256,
    written: u64,
}

impl Digester {
    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
    }

    /// How many bytes were fed.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.hasher.finalize());
        Digest(out)
    }
}

impl Write for Digester {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_and_round_trip() {
        let empty = Digest::of(b"");
        assert_eq!(
            empty.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let abc = Digest::of(b"abc");
        assert_eq!(
            abc.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(abc.to_string().parse::<Digest>().unwrap(), abc);
        assert_eq!(Digest::of_reader(&b"abc"[..]).unwrap(), abc);
    }

    #[test]
    fn bad_digests_are_named() {
        for (input, reason) in [
            ("abc", "expected <algorithm>:<hex>"),
            ("sha512:00", "unsupported algorithm \"sha512\""),
            ("sha256:00", "a sha256 digest has 64 hex digits"),
        ] {
            let err = input.parse::<Digest>().unwrap_err().to_string();
            assert!(err.contains(reason), "{input}: {err}");
        }
        let bad_hex = format!("sha256:{}", "zz".repeat(32));
        assert!(
            bad_hex
                .parse::<Digest>()
                .unwrap_err()
                .to_string()
                .contains("not hexadecimal")
        );
    }
}
