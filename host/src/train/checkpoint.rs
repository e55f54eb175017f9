//! Crash-safe training checkpoints: every checkpoint is one directory written whole,
//! then made current by atomically replacing a small pointer file.
//!
//! Layout of `<out>/checkpoint/`:
//! - `epoch-NNNNN-<pid>-<nanos>-<n>/`: one checkpoint — the files the trainer hands over
//!   (network and optimizer state, the best model so far, the metrics rows, `state.json`)
//!   and `manifest.json`, which lists each file with its size and CRC-32;
//! - `LATEST`: one line, `<directory name> <CRC-32 of its manifest.json, hex>`.
//!
//! Writing ([`Writer`]): the files and the manifest go into a fresh, uniquely named
//! directory, each fsynced, then the directory; only then is `LATEST` replaced (a
//! temporary file renamed over it, and the parent fsynced). A kill at any moment leaves
//! `LATEST` naming either the previous complete checkpoint or the new complete one, never a
//! mix; stale directories are removed after the next commit ([`prune`]).
//!
//! Reading ([`read_latest`]): `LATEST`, the manifest's checksum, then every listed file's
//! size and checksum; any mismatch is refused (exit 2) naming the file.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use vina_core::model_file::crc32;

use crate::error::refuse;

/// The checkpoint directory's name under the trainer's output directory.
pub const DIR: &str = "checkpoint";
/// The pointer file naming the current checkpoint.
pub const LATEST: &str = "LATEST";
/// Each checkpoint's list of files and checksums.
pub const MANIFEST: &str = "manifest.json";
/// Version of the manifest's format.
const FORMAT: u32 = 1;

/// A name no other process or call uses: `<pid>-<nanoseconds>-<counter>`.
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// fsync a directory, so the names in it (new files, renames) are durable.
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Create `path` (which must not exist), write `bytes`, fsync.
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Atomically replace `path` by `bytes`: a uniquely named temporary file beside it,
/// fsynced, renamed over it, and the directory fsynced. A kill leaves the old or the new
/// content, never a mix.
pub fn replace_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("bad output path {}", path.display()))?;
    let parent = path.parent().unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{name}.tmp-{}", unique_suffix()));
    write_new(&tmp, bytes)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    sync_dir(if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    })
}

/// One file of a checkpoint, as `manifest.json` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    name: String,
    bytes: u64,
    crc32: u32,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: u32,
    /// Epochs completed.
    epoch: usize,
    files: Vec<Entry>,
}

/// A checkpoint being written: [`Writer::file`] for each file, then [`Writer::commit`].
pub struct Writer {
    ckpt: PathBuf,
    dir: PathBuf,
    epoch: usize,
    files: Vec<Entry>,
}

impl Writer {
    /// Start the checkpoint of `epoch` epochs completed in a fresh directory under `ckpt`.
    pub fn begin(ckpt: &Path, epoch: usize) -> anyhow::Result<Self> {
        let dir = ckpt.join(format!("epoch-{epoch:05}-{}", unique_suffix()));
        fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self {
            ckpt: ckpt.to_path_buf(),
            dir,
            epoch,
            files: Vec::new(),
        })
    }

    /// Write one file (fsynced) and remember its checksum.
    pub fn file(&mut self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        write_new(&self.dir.join(name), bytes)?;
        self.files.push(Entry {
            name: name.to_owned(),
            bytes: bytes.len() as u64,
            crc32: crc32(bytes),
        });
        Ok(())
    }

    /// Write the manifest, fsync the directory, call `after_manifest`, then make this the
    /// current checkpoint (replace `LATEST`). Returns the checkpoint's directory.
    pub fn commit(self, after_manifest: impl FnOnce()) -> anyhow::Result<PathBuf> {
        let manifest = serde_json::to_vec_pretty(&Manifest {
            format: FORMAT,
            epoch: self.epoch,
            files: self.files,
        })?;
        write_new(&self.dir.join(MANIFEST), &manifest)?;
        sync_dir(&self.dir)?;
        sync_dir(&self.ckpt)?;
        after_manifest();
        let name = self
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("checkpoint directory name")?;
        let pointer = format!("{name} {:08x}\n", crc32(&manifest));
        replace_atomic(&self.ckpt.join(LATEST), pointer.as_bytes())?;
        Ok(self.dir)
    }
}

/// A verified checkpoint.
pub struct Loaded {
    /// Its directory.
    pub dir: PathBuf,
    /// Epochs completed.
    pub epoch: usize,
    files: BTreeMap<String, Vec<u8>>,
}

impl Loaded {
    /// Whether the manifest lists file `name`.
    pub fn has(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }

    /// The verified bytes of file `name`; a file the manifest does not list is refused.
    pub fn file(&self, name: &str) -> anyhow::Result<&[u8]> {
        self.files.get(name).map(Vec::as_slice).ok_or_else(|| {
            refuse(format!(
                "{}: missing from the checkpoint (its {MANIFEST} does not list it); \
                 start over with --force",
                self.dir.join(name).display()
            ))
        })
    }
}

/// The checkpoint `LATEST` names under `ckpt`, every file verified against the manifest's
/// size and CRC-32; `None` when there is no `LATEST` (no checkpoint was ever completed).
/// A corrupted or incomplete checkpoint is refused, naming the file.
pub fn read_latest(ckpt: &Path) -> anyhow::Result<Option<Loaded>> {
    let latest = ckpt.join(LATEST);
    let text = match fs::read(&latest) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", latest.display())),
    };
    let corrupted = |path: &Path, what: String| {
        refuse(format!(
            "{}: {what}: the checkpoint is corrupted; start over with --force",
            path.display()
        ))
    };
    let parsed = std::str::from_utf8(&text).ok().and_then(|t| {
        let (name, crc) = t.strip_suffix('\n')?.split_once(' ')?;
        // Lower-case hex only: `from_str_radix` would also take a bit-flipped `A` for `a`.
        let hex = crc.len() == 8 && crc.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let plain = name.starts_with("epoch-") && !name.contains(['/', '\\']) && hex;
        Some((plain.then_some(name)?, u32::from_str_radix(crc, 16).ok()?))
    });
    let Some((name, manifest_crc)) = parsed else {
        return Err(corrupted(
            &latest,
            "not a checkpoint pointer (`<directory> <crc32>`)".into(),
        ));
    };
    let dir = ckpt.join(name);
    let manifest_path = dir.join(MANIFEST);
    let manifest_bytes = fs::read(&manifest_path).map_err(|e| {
        corrupted(
            &latest,
            format!(
                "names {}, whose manifest cannot be read ({e})",
                dir.display()
            ),
        )
    })?;
    let found = crc32(&manifest_bytes);
    if found != manifest_crc {
        return Err(corrupted(
            &manifest_path,
            format!("CRC-32 {found:08x}, {LATEST} says {manifest_crc:08x}"),
        ));
    }
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| corrupted(&manifest_path, format!("bad manifest ({e})")))?;
    if manifest.format != FORMAT {
        return Err(refuse(format!(
            "{}: checkpoint format {} (this vina reads {FORMAT}); start over with --force",
            manifest_path.display(),
            manifest.format
        )));
    }
    let mut files = BTreeMap::new();
    for e in &manifest.files {
        let path = dir.join(&e.name);
        if e.name.contains(['/', '\\']) || e.name.starts_with('.') {
            return Err(corrupted(
                &manifest_path,
                format!("bad file name `{}`", e.name),
            ));
        }
        let bytes =
            fs::read(&path).map_err(|err| corrupted(&path, format!("cannot read it ({err})")))?;
        if bytes.len() as u64 != e.bytes {
            return Err(corrupted(
                &path,
                format!("{} bytes, the manifest says {}", bytes.len(), e.bytes),
            ));
        }
        let found = crc32(&bytes);
        if found != e.crc32 {
            return Err(corrupted(
                &path,
                format!("CRC-32 {found:08x}, the manifest says {:08x}", e.crc32),
            ));
        }
        files.insert(e.name.clone(), bytes);
    }
    Ok(Some(Loaded {
        dir,
        epoch: manifest.epoch,
        files,
    }))
}

/// Remove everything under `ckpt` but `LATEST` and the checkpoint `keep`: older
/// checkpoints and what killed runs left behind.
pub fn prune(ckpt: &Path, keep: &Path) -> anyhow::Result<()> {
    let keep = keep.file_name();
    for entry in fs::read_dir(ckpt).with_context(|| format!("cannot read {}", ckpt.display()))? {
        let entry = entry.with_context(|| format!("cannot read {}", ckpt.display()))?;
        let name = entry.file_name();
        if name == LATEST || Some(name.as_os_str()) == keep {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.with_context(|| format!("cannot remove old checkpoint {}", path.display()))?;
    }
    Ok(())
}
