//! Panic capture: every entry point the host can call runs its body under
//! [`catch_panic`], because abi_stable turns a panic that reaches the
//! boundary into `process::exit(1)`, which would take the host down. The
//! panic becomes a `plugin.panic` error value, with the message and
//! location that the plugin's panic hook ([`record_panic`]) kept.

use super::error::{Error, Result};
use crate::abi::PluginError;
use abi_stable::std_types::RResult;
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};

thread_local! {
    /// Message and location of the last panic on this thread, recorded by the
    /// plugin's own panic hook (each cdylib has its own `std` and hook).
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps the message and location of a panic for [`catch_panic`]; installed
/// as the panic hook.
pub(crate) fn record_panic(info: &panic::PanicHookInfo<'_>) {
    LAST_PANIC.with(|last| *last.borrow_mut() = Some(info.to_string().replace('\n', " ")));
}

/// Runs `body`, turning a panic into a `plugin.panic` error value.
pub(crate) fn catch_panic<T>(body: impl FnOnce() -> Result<T>) -> RResult<T, PluginError> {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result.map_err(PluginError::from).into(),
        Err(payload) => {
            let detail = LAST_PANIC
                .with(|last| last.borrow_mut().take())
                .unwrap_or_else(|| panic_message(payload.as_ref()));
            RResult::RErr(Error::new("plugin.panic", format!("the plugin panicked: {detail}")).into())
        }
    }
}

/// The message a panic carries, when no hook recorded more.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".to_owned())
}

/// What the panic hook kept and no [`catch_panic`] took yet.
#[cfg(test)]
pub(crate) fn last_panic() -> Option<String> {
    LAST_PANIC.with(|last| last.borrow().clone())
}

/// What a caught body came to, as the SDK's error.
#[cfg(test)]
pub(crate) fn outcome<T>(result: RResult<T, PluginError>) -> Result<T> {
    result.into_result().map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_errors_pass_through_unchanged() {
        assert_eq!(outcome(catch_panic(|| Ok(7))).unwrap(), 7);
        let error = Error::new("acme.x", "m").with_help("h").with_location("l");
        assert_eq!(
            outcome(catch_panic::<()>(|| Err(error.clone()))).unwrap_err(),
            error
        );
    }

    /// The message is the panic's own, with where it happened when a hook
    /// recorded it (another test of this binary may have installed one).
    #[test]
    fn a_panic_becomes_a_plugin_panic_error_with_its_message() {
        let error = outcome(catch_panic::<()>(|| panic!("index out of bounds"))).unwrap_err();
        assert_eq!(error.code, "plugin.panic");
        assert!(
            error.message.starts_with("the plugin panicked: "),
            "{}",
            error.message
        );
        assert!(
            error.message.ends_with("index out of bounds"),
            "{}",
            error.message
        );
        let row = 42;
        let error = outcome(catch_panic::<()>(|| panic!("bad row {row}"))).unwrap_err();
        assert!(error.message.ends_with("bad row 42"), "{}", error.message);
    }

    #[test]
    fn without_a_hook_the_message_comes_from_the_payload() {
        assert_eq!(panic_message(&"static text"), "static text");
        assert_eq!(panic_message(&String::from("formatted")), "formatted");
        assert_eq!(panic_message(&7_u8), "a panic with no message");
    }
}
