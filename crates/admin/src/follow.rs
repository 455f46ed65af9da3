//! The change feed's follower: one task per admin API that watches the store's revision and,
//! when what the gateway serves has moved, loads what changed since the revision it last
//! handed over (only the groups the writes touched, unless one touched more) and hands it over
//! (`OnChange`). A burst of writes (eight clients publishing at once) costs one load and one
//! compile, not one per write. A handler that changed served state waits until the follower has
//! applied its revision: when the admin call returns, traffic has changed.

use std::sync::Arc;
use std::time::Duration;

use pylon_model::Change;
use pylon_store::Store;
use tokio::sync::watch;

use crate::error::{ApiError, ApiResult};

/// Called with what changed when what the gateway serves has changed (once for a burst of
/// changes), and the store's `served` revision it brings the receiver to; the binary wires it
/// to `Gateway::apply_change`. Each change follows the one before: whoever receives them
/// holds the state of the last one.
pub type OnChange = Arc<dyn Fn(&Change, u64) -> Result<(), String> + Send + Sync>;

/// How long a handler waits for the gateway to serve its change before saying so.
const APPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the follower has handed to the gateway.
#[derive(Debug, Clone, Default)]
pub(crate) struct Applied {
    /// The store's `served` revision of the last snapshot handed over (or tried).
    served: u64,
    /// Why the snapshot of that revision was not taken, if it was not.
    failure: Option<String>,
    /// The revision whose state the receiver holds: the next change starts there (0: it
    /// holds nothing known, so the next change is loaded whole).
    handed: u64,
}

/// Starts the follower. The caller has already applied the store's current state.
pub(crate) fn spawn(store: Store, on_change: OnChange) -> watch::Receiver<Applied> {
    let mut feed = store.subscribe();
    let now = feed.borrow_and_update().served;
    let (applied, receiver) = watch::channel(Applied {
        served: now,
        failure: None,
        handed: now,
    });
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = feed.changed() => if changed.is_err() { return },
                // Every admin router holding the receiver is gone.
                () = applied.closed() => return,
            }
            let target = feed.borrow_and_update().served;
            if target <= applied.borrow().served {
                continue;
            }
            let started = std::time::Instant::now();
            let since = applied.borrow().handed;
            let next = match store.load_change(since).await {
                Ok((revision, change)) => {
                    let loaded = started.elapsed();
                    let failure = on_change(&change, revision.served).err();
                    tracing::debug!(
                        revision = revision.served,
                        full = matches!(change, Change::Full(_)),
                        load_ms = loaded.as_secs_f64() * 1e3,
                        apply_ms = (started.elapsed() - loaded).as_secs_f64() * 1e3,
                        "change feed: change handed over"
                    );
                    Applied {
                        served: revision.served,
                        // A refused change leaves the receiver where it was: the next change
                        // must start from there, so it is loaded whole.
                        handed: if failure.is_none() {
                            revision.served
                        } else {
                            0
                        },
                        failure,
                    }
                }
                Err(e) => Applied {
                    served: target,
                    handed: 0,
                    failure: Some(format!("cannot load the published state: {e}")),
                },
            };
            applied.send_replace(next);
        }
    });
    receiver
}

/// Waits until the gateway serves the store's current state, or says why it does not.
pub(crate) async fn served(store: &Store, applied: &watch::Receiver<Applied>) -> ApiResult<()> {
    let target = store.revision().served;
    let mut applied = applied.clone();
    let outcome = tokio::time::timeout(APPLY_TIMEOUT, async {
        applied
            .wait_for(|a| a.served >= target)
            .await
            .map(|a| a.failure.clone())
    })
    .await;
    match outcome {
        Ok(Ok(None)) => Ok(()),
        Ok(Ok(Some(failure))) => Err(ApiError::Apply(failure)),
        Ok(Err(_)) => Err(ApiError::Apply("the change follower stopped".into())),
        Err(_) => Err(ApiError::Apply(format!(
            "the change is saved (revision {target}), but the gateway did not serve it within \
             {} s",
            APPLY_TIMEOUT.as_secs()
        ))),
    }
}
