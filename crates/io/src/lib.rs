//! Crash-safe files for burn-rnn.
//!
//! - [`write_atomic`] and [`AtomicFile`]: a file is written to a temporary file beside its
//!   target, flushed to disk (`fsync`), renamed over the target, and the directory is flushed
//!   too. Killed at any moment, the process leaves the old file or the new one, never a torn one;
//!   [`remove_stale_temp_files`] clears what an interrupted writer left behind.
//! - [`crc32`]: the checksum that checkpoint manifests record, so that a damaged file is
//!   recognised rather than read back as valid.
//! - [`crash`]: numbered crash points in the writers and in the training loop, which a test arms
//!   to kill its own process with `SIGKILL` at a chosen place.

#![warn(missing_docs)]

pub mod crash;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::crash::CrashSite;

/// What starts a temporary file's name: `.tmp-<pid>-<n>-<target name>` (the target's extension
/// stays last, for writers that choose a format by it).
const TEMP_PREFIX: &str = ".tmp-";

/// A file under construction beside its target. Write the content to [`AtomicFile::path`]
/// (with any writer that takes a path) or with [`AtomicFile::write_all`], then
/// [`AtomicFile::commit`]; dropped without a commit, the temporary file is removed and the target
/// is left as it was.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let target = dir.path().join("weights.bin");
/// let file = burn_rnn_io::AtomicFile::new(&target)?;
/// std::fs::write(file.path(), [1u8, 2, 3])?; // any writer that takes a path
/// assert!(!target.exists());
/// file.commit()?;
/// assert_eq!(std::fs::read(&target)?, [1, 2, 3]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Prepares to replace `target`; its directory must exist. Nothing is created yet.
    pub fn new(target: impl Into<PathBuf>) -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let target = target.into();
        let name = target.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} does not name a file", target.display()),
            )
        })?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let temp_name = format!(
            "{TEMP_PREFIX}{}-{n}-{}",
            std::process::id(),
            name.to_string_lossy()
        );
        let temp = target.with_file_name(temp_name);
        Ok(Self {
            target,
            temp,
            committed: false,
        })
    }

    /// The temporary path to write to.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// The file that [`commit`](Self::commit) replaces.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes `bytes` to the temporary file (a crash point sits halfway, so that kill tests
    /// leave torn temporary files behind).
    pub fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        let mut file = File::create(&self.temp)?;
        let (head, tail) = bytes.split_at(bytes.len() / 2);
        file.write_all(head)?;
        crash::point(CrashSite::Write);
        file.write_all(tail)
    }

    /// Flushes the temporary file to disk, renames it over the target and flushes the
    /// directory, so that the new content survives a power loss once this returns.
    pub fn commit(mut self) -> io::Result<()> {
        crash::point(CrashSite::Write);
        File::open(&self.temp)?.sync_all()?;
        crash::point(CrashSite::Write);
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        crash::point(CrashSite::Write);
        sync_dir(self.target.parent().unwrap_or(Path::new(".")))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the file may never have been created.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Replaces `path` with `bytes` atomically: a reader (or a later run after a crash) finds the
/// old content or the new, never a mixture. The directory must exist.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("metrics.csv");
/// burn_rnn_io::write_atomic(&path, b"epoch,loss\n1,0.5\n")?;
/// assert_eq!(std::fs::read_to_string(&path)?, "epoch,loss\n1,0.5\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
    let file = AtomicFile::new(path.as_ref())?;
    file.write_all(bytes)?;
    file.commit()
}

/// Flushes a directory's entries (a rename in it) to disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened for flushing here; the rename itself is atomic.
        let _ = dir;
        Ok(())
    }
}

/// Removes the temporary files that interrupted [`write_atomic`]s left in `dir` (names
/// `.tmp-<pid>-<n>-<target>`); returns how many. A missing directory has none.
pub fn remove_stale_temp_files(dir: &Path) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        if is_temp_name(&entry.file_name().to_string_lossy()) && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether `name` is one of [`AtomicFile`]'s temporary names.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

/// The CRC-32 (IEEE) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// A CRC-32 (IEEE) computed over pieces fed one after another.
#[derive(Debug, Clone, Default)]
pub struct Crc32(crc32fast::Hasher);

impl Crc32 {
    /// A checksum of nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The checksum of everything added.
    pub fn finish(self) -> u32 {
        self.0.finalize()
    }
}

// The README's example, compiled and run with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"first, longer content").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.json"]);
    }

    #[test]
    fn an_uncommitted_file_leaves_the_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bpk");
        write_atomic(&path, b"good").unwrap();
        {
            let file = AtomicFile::new(&path).unwrap();
            file.write_all(b"half-written").unwrap();
            assert!(file.path().is_file());
        }
        assert_eq!(fs::read(&path).unwrap(), b"good");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn stale_temporaries_are_recognised_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let file = AtomicFile::new(dir.path().join("x.csv")).unwrap();
        let temp_name = file
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(is_temp_name(&temp_name), "{temp_name}");
        fs::write(file.path(), b"torn").unwrap();
        std::mem::forget(file); // as a killed process would
        fs::write(dir.path().join("keep.tmp"), b"not ours").unwrap();
        assert_eq!(remove_stale_temp_files(dir.path()).unwrap(), 1);
        assert_eq!(
            remove_stale_temp_files(&dir.path().join("nope")).unwrap(),
            0
        );
        assert!(dir.path().join("keep.tmp").is_file());
    }

    #[test]
    fn a_path_without_a_file_name_is_an_error() {
        assert!(write_atomic("/", b"x").is_err());
        assert!(write_atomic(Path::new("no-such-dir/a.json"), b"x").is_err());
    }

    #[test]
    fn crc_of_known_bytes() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let mut pieces = Crc32::new();
        pieces.update(b"1234");
        pieces.update(b"56789");
        assert_eq!(pieces.finish(), 0xCBF4_3926);
    }
}
