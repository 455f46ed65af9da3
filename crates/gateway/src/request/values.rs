//! The values of an API's declared parameters, as the validate phase extracted them: read by
//! authentication, the backend request and the debug trace.

use std::borrow::Cow;

/// One extracted parameter value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value<'v> {
    /// Decoded text.
    pub(crate) text: Cow<'v, str>,
    /// For path parameters: the value as it came, still percent-encoded, to forward unchanged.
    pub(crate) raw_path: Option<&'v str>,
    /// The client did not send it; the declared default stands in.
    pub(crate) from_default: bool,
}

/// The values of an API's declared parameters, by index into `ApiPlan::params`.
#[derive(Debug, Default)]
pub(crate) struct Values<'v> {
    pub(crate) items: Vec<Option<Value<'v>>>,
}

impl<'v> Values<'v> {
    pub(crate) fn get(&self, index: usize) -> Option<&Value<'v>> {
        self.items.get(index).and_then(Option::as_ref)
    }
}
