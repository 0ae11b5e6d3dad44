//! The one conversion of a [`crate::Error`] into what JS sees: an `Error` with
//! `name = "GeodetectError"` and a stable `code` ([`crate::error::ErrorCode`]). Boundary
//! methods return `Result<_, JsValue>` and use `?` on core results.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};

use crate::Error;

impl From<Error> for JsValue {
    fn from(e: Error) -> Self {
        let js = js_sys::Error::new(&e.to_string());
        js.set_name("GeodetectError");
        // Setting a property on a fresh Error object cannot fail.
        let _ = Reflect::set(&js, &"code".into(), &e.code().as_str().into());
        js.into()
    }
}

/// Describe a thrown JS value: an `Error`'s message, or its string form.
pub fn describe(value: &JsValue) -> String {
    match value.dyn_ref::<js_sys::Error>() {
        Some(e) => e.message().into(),
        None => value.as_string().unwrap_or_else(|| format!("{value:?}")),
    }
}
