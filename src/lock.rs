//! One `pylon serve` per data directory: two on one store would each serve their own compiled
//! snapshot and disagree. The lock is an advisory `flock` on `<data-dir>/pylon.lock`, held
//! for the life of the process and released by the kernel however it ends; the file names the
//! holder, so a second server can say who has it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::{Context, bail};

pub const LOCK_FILE: &str = "pylon.lock";

pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn acquire(data_dir: &Path) -> anyhow::Result<DataDirLock> {
        let path = data_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    "another process".to_string()
                } else {
                    holder.replace('\n', ", ")
                };
                bail!(
                    "the data directory {} is in use by another pylon serve ({holder}); stop it, \
                     or give this one its own --data-dir",
                    data_dir.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        let started = httpdate::fmt_http_date(std::time::SystemTime::now());
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "pid {}\nstarted {started}\n", std::process::id())?;
        file.flush()?;
        Ok(DataDirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).err().unwrap();
        let text = format!("{err:#}");
        assert!(text.contains("in use by another pylon serve"), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
