//! A tile's encoded image as the worker holds it: its bytes in a JS `Uint8Array`, outside the
//! wasm memory, read straight from the response (`Response.arrayBuffer`), and the type the
//! server gave it. Not a `Blob`: Chromium keeps a `Blob`'s bytes in the browser process, so
//! `Response.blob` sends them there and `Blob.arrayBuffer` asks for them back, two trips per
//! tile on the way to the decoder (16 tiles through 6 connections in a bare worker: 37 ms as
//! `Blob`s read back, 32 ms as `ArrayBuffer`s). A `Blob` is made only where the browser wants
//! one: `createImageBitmap` for a format Rust does not decode, and Cache Storage.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::JsValue;
use web_sys::{Blob, BlobPropertyBag};

/// An encoded image (see the module).
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The bytes, on the JS side.
    pub bytes: Uint8Array,
    /// Its MIME type, lower case: the response's `Content-Type`, or empty where unknown (a
    /// PMTiles archive's tile).
    pub kind: String,
}

impl Encoded {
    /// `bytes` of type `kind`, on the JS side.
    pub fn new(bytes: Uint8Array, kind: &str) -> Self {
        Encoded { bytes, kind: kind.trim().to_ascii_lowercase() }
    }

    /// `bytes` copied out of wasm memory, of type `kind`.
    pub fn copy_of(bytes: &[u8], kind: &str) -> Self {
        Encoded::new(Uint8Array::from(bytes), kind)
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        u64::from(self.bytes.byte_length())
    }

    /// The bytes copied into wasm memory (for the decoder).
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes.to_vec()
    }

    /// A `Blob` of the bytes with the image's type (for `createImageBitmap`, Cache Storage).
    pub fn blob(&self) -> Result<Blob, JsValue> {
        let options = BlobPropertyBag::new();
        options.set_type(&self.kind);
        Blob::new_with_u8_array_sequence_and_options(&Array::of1(&self.bytes), &options)
    }
}

/// A `Blob` of `bytes` (copied out of wasm memory), of no type.
pub fn blob_of(bytes: &[u8]) -> Result<Blob, JsValue> {
    Encoded::copy_of(bytes, "").blob()
}
