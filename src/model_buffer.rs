//! A model's bytes as they arrive. A download is written here chunk by chunk, so the model is
//! never held whole by the caller as well, and it is hashed on the way for integrity checks.

use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::error::{Error, Result};

/// The bytes of a model being received, and their running digests.
pub struct ModelBuffer {
    bytes: Vec<u8>,
    hashers: Vec<Hasher>,
}

#[derive(Clone)]
enum Hasher {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algorithm: &str) -> Result<Hasher> {
        Ok(match algorithm {
            "sha256" => Hasher::Sha256(Sha256::new()),
            "sha384" => Hasher::Sha384(Sha384::new()),
            "sha512" => Hasher::Sha512(Sha512::new()),
            other => {
                return Err(Error::invalid_argument(format!(
                    "unknown digest algorithm '{other}' (expected sha256, sha384 or sha512)"
                )))
            }
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Hasher::Sha256(_) => "sha256",
            Hasher::Sha384(_) => "sha384",
            Hasher::Sha512(_) => "sha512",
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

fn out_of_memory(bytes: usize) -> Error {
    Error::runtime(format!(
        "out of memory: cannot hold a model of {bytes} bytes in WebAssembly memory"
    ))
}

impl ModelBuffer {
    /// An empty buffer with room for `capacity` bytes (the expected size, or 0 when unknown),
    /// computing the digests named in `algorithms` (`sha256`, `sha384`, `sha512`) as bytes arrive.
    pub fn new(capacity: usize, algorithms: &[String]) -> Result<ModelBuffer> {
        let hashers = algorithms
            .iter()
            .map(|a| Hasher::new(a))
            .collect::<Result<_>>()?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(capacity)
            .map_err(|_| out_of_memory(capacity))?;
        Ok(ModelBuffer { bytes, hashers })
    }

    /// Appends `len` bytes written by `fill`, growing the buffer if it is full.
    pub fn append_with(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) -> Result<()> {
        let start = self.bytes.len();
        self.bytes
            .try_reserve(len)
            .map_err(|_| out_of_memory(start + len))?;
        self.bytes.resize(start + len, 0);
        let chunk = &mut self.bytes[start..];
        fill(chunk);
        for hasher in &mut self.hashers {
            hasher.update(chunk);
        }
        Ok(())
    }

    /// Appends a chunk.
    pub fn append(&mut self, chunk: &[u8]) -> Result<()> {
        self.append_with(chunk.len(), |dst| dst.copy_from_slice(chunk))
    }

    /// The bytes received so far.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The digest of the bytes received so far, if `algorithm` was asked for at creation.
    pub fn digest(&self, algorithm: &str) -> Option<Vec<u8>> {
        self.hashers
            .iter()
            .find(|h| h.name() == algorithm)
            .map(|h| h.clone().finish())
    }

    /// The bytes, without spare capacity.
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.take_bytes()
    }

    /// Takes the bytes out, without spare capacity, leaving the buffer empty.
    /// Puts back bytes taken by [`ModelBuffer::take_bytes`].
    pub fn restore(&mut self, bytes: Vec<u8>) {
        self.bytes = bytes;
    }

    pub fn take_bytes(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.shrink_to_fit();
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn chunks_grow_the_buffer_and_the_digests_cover_them_all() {
        let algorithms = ["sha256".to_string(), "sha512".to_string()];
        let mut buffer = ModelBuffer::new(2, &algorithms).unwrap();
        for chunk in [&b"a"[..], b"b", b"c"] {
            buffer.append(chunk).unwrap();
        }
        assert_eq!(buffer.bytes(), b"abc");
        assert_eq!(
            hex(&buffer.digest("sha256").unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(hex(&buffer.digest("sha512").unwrap()).starts_with("ddaf35a193617aba"));
        assert_eq!(buffer.digest("sha384"), None);
        assert_eq!(buffer.into_bytes(), b"abc");
    }

    #[test]
    fn unknown_algorithms_and_impossible_sizes_are_errors() {
        let error = ModelBuffer::new(0, &["md5".to_string()]).err().unwrap();
        assert!(error.message.contains("md5"), "{}", error.message);
        let error = ModelBuffer::new(usize::MAX, &[]).err().unwrap();
        assert!(error.message.contains("out of memory"), "{}", error.message);
    }
}
