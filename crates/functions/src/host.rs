//! The set of hosted functions: replaced as a whole when the functions change, keeping the
//! workers of every function that did not.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pylon_model::ServedFunction;

use crate::function::HostedFunction;
use crate::worker::lock;

#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Where a function without a `working_dir` runs.
    pub default_dir: PathBuf,
    /// A worker unused this long is stopped ([`DEFAULT_IDLE_TIMEOUT`] in `pylon serve`).
    pub idle_timeout: Duration,
}

/// How long an idle worker is kept warm: as long as Lambda usually keeps a sandbox.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

pub struct FunctionHost {
    config: HostConfig,
    functions: Mutex<HashMap<String, Arc<HostedFunction>>>,
}

impl FunctionHost {
    pub fn new(config: HostConfig) -> Arc<FunctionHost> {
        Arc::new(FunctionHost {
            config,
            functions: Mutex::default(),
        })
    }

    /// Replaces the set of functions. A function whose spec (or `updated_at`) changed gets a
    /// new `HostedFunction`; the old one retires: its idle workers are killed at once, busy
    /// ones when their invocation ends. Removed functions retire the same way.
    pub fn apply(&self, functions: &[ServedFunction]) {
        let retired: Vec<Arc<HostedFunction>> = {
            let mut current = lock(&self.functions);
            let mut next = HashMap::with_capacity(functions.len());
            for served in functions {
                let function = current
                    .get(&served.spec.name)
                    .filter(|f| f.served() == served)
                    .cloned()
                    .unwrap_or_else(|| {
                        Arc::new(HostedFunction::new(
                            served.clone(),
                            &self.config.default_dir,
                            self.config.idle_timeout,
                        ))
                    });
                next.insert(served.spec.name.clone(), function);
            }
            let old = std::mem::replace(&mut *current, next);
            old.into_values()
                .filter(|f| !current.get(f.name()).is_some_and(|n| Arc::ptr_eq(n, f)))
                .collect()
        };
        for function in retired {
            tracing::info!(function = %function.name(), "hosted function retired");
            function.retire(false);
        }
    }

    /// The current function of that name.
    pub fn get(&self, name: &str) -> Option<Arc<HostedFunction>> {
        lock(&self.functions).get(name).cloned()
    }

    /// Kills every worker, busy or not; later calls fail with `Retired`.
    pub fn shutdown(&self) {
        let functions = std::mem::take(&mut *lock(&self.functions));
        for function in functions.into_values() {
            function.retire(true);
        }
    }
}
