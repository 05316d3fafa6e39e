//! Files the binary writes: atomically (a unique temporary file beside the target, then
//! rename), one writer per target (a lock file), only over regular files, never over a
//! scenario the user wrote, and no temporaries left behind, not even on Ctrl-C.
//!
//! For a target `DIR/NAME`:
//! - `DIR/.NAME.faultline-lock` is created with `create_new` and holds the writer's process
//!   id; a second writer is refused while it exists. It is removed when the writer is done,
//!   fails or is interrupted. A lock whose process is gone (a `kill -9`) is taken over with a
//!   warning where the system tells (Linux's `/proc`); elsewhere the message says to remove it.
//! - `DIR/.NAME.PID-N.faultline-tmp` is the temporary file, unique per process and file. The
//!   lock's holder removes the temporaries of earlier writers of the same target that were
//!   killed before they could clean up.
//! - The target must be a regular file or absent. A symbolic link is refused rather than
//!   followed or replaced: renaming over it would replace the link, and following it would
//!   write wherever it points; give the real path instead. Devices, FIFOs and directories are
//!   refused too.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};

/// Paths to remove if the process is interrupted: the open temporaries and the held locks.
static CLEANUP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The temporaries of this process are numbered, so two files in one process never clash.
static COUNTER: AtomicU64 = AtomicU64::new(0);

const TMP_SUFFIX: &str = ".faultline-tmp";
const LOCK_SUFFIX: &str = ".faultline-lock";

fn register(path: &Path) {
    CLEANUP
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(path.to_owned());
}

fn unregister(path: &Path) {
    let mut paths = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
    paths.retain(|p| p != path);
}

/// On Ctrl-C or SIGTERM: removes every temporary file and lock this process holds, then exits
/// with 130 (the shell's code for an interrupted command). The targets keep their old content.
pub fn install_interrupt_cleanup() {
    // Failing to install the handler only loses the cleanup; the next writer of the target
    // removes what an interruption leaves.
    let _ = ctrlc::set_handler(|| {
        let paths = std::mem::take(&mut *CLEANUP.lock().unwrap_or_else(|e| e.into_inner()));
        for p in paths {
            let _ = std::fs::remove_file(p);
        }
        eprintln!("faultline: interrupted; partial output files removed");
        std::process::exit(130);
    });
}

/// The directory and file name of a target.
fn split(path: &Path, flag: &str) -> Result<(PathBuf, String)> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{flag} {} is not a file path", path.display()))?;
    Ok((dir, name.to_string_lossy().into_owned()))
}

/// Refuses a target that exists and is not a regular file.
fn require_regular_or_absent(path: &Path, flag: &str) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("{flag} {}", path.display())),
    };
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_symlink() {
        "a symbolic link (faultline neither follows nor replaces links; give the real path)"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file (a device, FIFO or socket)"
    };
    bail!(
        "{flag} {} is {what}; refusing to write over it",
        path.display()
    )
}

/// Whether process `pid` is gone, where the system can tell (Linux); `false` when unknown.
fn process_gone(pid: u32) -> bool {
    let proc = Path::new("/proc");
    proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

/// The right to write one target: its lock file, removed on drop.
pub struct Target {
    path: PathBuf,
    flag: String,
    dir: PathBuf,
    name: String,
    lock: PathBuf,
}

impl Target {
    /// Checks that `path` may be written and takes its lock; removes the temporaries that
    /// killed writers of it left behind.
    pub fn claim(path: &Path, flag: &str) -> Result<Target> {
        let (dir, name) = split(path, flag)?;
        require_regular_or_absent(path, flag)?;
        let lock = dir.join(format!(".{name}{LOCK_SUFFIX}"));
        let mut tried_stale = false;
        let mut file = loop {
            match OpenOptions::new().write(true).create_new(true).open(&lock) {
                Ok(file) => break file,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&lock).unwrap_or_default();
                    let pid = holder.trim().parse::<u32>().ok();
                    if let Some(pid) = pid
                        && !tried_stale
                        && pid != std::process::id()
                        && process_gone(pid)
                    {
                        eprintln!(
                            "warning: {flag} {}: taking over the lock {} of process {pid}, \
                             which is gone",
                            path.display(),
                            lock.display()
                        );
                        tried_stale = true;
                        let _ = std::fs::remove_file(&lock);
                        continue;
                    }
                    bail!(
                        "{flag} {}: another faultline (process {}) is writing this file: the \
                         lock {} exists; wait for it, choose another path, or remove the lock if \
                         no faultline is running",
                        path.display(),
                        pid.map_or("unknown".to_owned(), |p| p.to_string()),
                        lock.display()
                    );
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "{flag} {}: cannot create {}",
                            path.display(),
                            lock.display()
                        )
                    });
                }
            }
        };
        register(&lock);
        let target = Target {
            path: path.to_owned(),
            flag: flag.to_owned(),
            dir,
            name,
            lock,
        };
        file.write_all(format!("{}\n", std::process::id()).as_bytes())
            .with_context(|| format!("cannot write {}", target.lock.display()))?;
        target.remove_stale_temporaries();
        Ok(target)
    }

    /// The target's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// With the lock held, no other live faultline writes this target: every temporary of it
    /// is left over from a killed writer (the fixed name of older versions included).
    fn remove_stale_temporaries(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let prefix = format!(".{}.", self.name);
        let old_fixed_name = format!(".{}{TMP_SUFFIX}", self.name);
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            // `.NAME.PID-N.faultline-tmp`, or the fixed name of older versions; nothing else.
            let numbered = file_name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(TMP_SUFFIX))
                .and_then(|middle| middle.split_once('-'))
                .is_some_and(|(pid, n)| pid.parse::<u32>().is_ok() && n.parse::<u64>().is_ok());
            let ours = numbered || file_name == old_fixed_name;
            if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// A new temporary file beside the target.
    /// Keep the target (its lock) until the file is committed or dropped.
    pub fn temporary(&self) -> Result<AtomicFile> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join(format!(
            ".{}.{}-{n}{TMP_SUFFIX}",
            self.name,
            std::process::id()
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| {
                format!(
                    "cannot write {} (temporary file {})",
                    self.path.display(),
                    tmp.display()
                )
            })?;
        register(&tmp);
        Ok(AtomicFile {
            path: self.path.clone(),
            flag: self.flag.clone(),
            tmp,
            out: BufWriter::new(file),
            done: false,
        })
    }

    /// Replaces the target with `bytes` atomically.
    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        let mut file = self.temporary()?;
        if let Err(e) = file.writer().write_all(bytes) {
            return Err(e).with_context(|| file.failure());
        }
        file.commit()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.lock);
        unregister(&self.lock);
    }
}

/// A file written beside its target and renamed into place when complete, so a reader never
/// sees half of it and a failed write leaves the older file intact. Dropped without `commit`,
/// the temporary file is removed.
pub struct AtomicFile {
    path: PathBuf,
    flag: String,
    tmp: PathBuf,
    out: BufWriter<File>,
    done: bool,
}

impl AtomicFile {
    /// The message of a failed write: the target's name first, the temporary's after.
    pub fn failure(&self) -> String {
        format!(
            "cannot write {} (temporary file {})",
            self.path.display(),
            self.tmp.display()
        )
    }

    /// Flushes the file to disk and moves it into place.
    pub fn commit(mut self) -> Result<()> {
        let written = self
            .out
            .flush()
            .and_then(|()| self.out.get_ref().sync_all());
        if let Err(e) = written {
            return Err(e).with_context(|| self.failure());
        }
        // The target may have been replaced by something else while we wrote.
        require_regular_or_absent(&self.path, &self.flag)?;
        std::fs::rename(&self.tmp, &self.path).with_context(|| {
            format!("cannot move the file into place at {}", self.path.display())
        })?;
        self.done = true;
        unregister(&self.tmp);
        Ok(())
    }

    /// The writer of the temporary file.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.out
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
            unregister(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` atomically: a reader never sees half a file, an interrupted write
/// leaves the old file intact, and a second writer of the same path is refused.
pub fn write_atomically(path: &Path, flag: &str, bytes: &[u8]) -> Result<()> {
    Target::claim(path, flag)?.write(bytes)
}

/// Nothing the user wrote is overwritten: an output may not replace the scenario.
pub fn refuse_to_overwrite(out: &Path, scenario: &Path) -> Result<()> {
    if let (Ok(a), Ok(b)) = (out.canonicalize(), scenario.canonicalize())
        && a == b
    {
        bail!(
            "refusing to write over the scenario file {}",
            scenario.display()
        );
    }
    Ok(())
}

/// The most a JSON input (a baseline, a sweep part or checkpoint) may hold: a sweep of 10^6 runs
/// with a few metrics each fits several times over.
const MAX_INPUT_BYTES: u64 = 1 << 30;

/// Reads a JSON input the binary did not write this run (`what` names it in errors): only a
/// regular file (a FIFO would block and a device never end), at most [`MAX_INPUT_BYTES`].
pub fn read_input(path: &Path, what: &str) -> anyhow::Result<String> {
    use std::io::Read;
    let shown = path.display();
    let kind = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("cannot read {what} {shown}: {e}"))?
        .file_type();
    if !kind.is_file() {
        anyhow::bail!("cannot read {what} {shown}: not a regular file");
    }
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| anyhow::anyhow!("cannot read {what} {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        anyhow::bail!("cannot read {what} {shown}: larger than 1 GiB");
    }
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("cannot read {what} {shown}: not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("faultline-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_replace_atomically_and_leave_nothing_behind() {
        let d = dir("plain");
        let out = d.join("out.json");
        write_atomically(&out, "--out", b"one").expect("write");
        write_atomically(&out, "--out", b"two").expect("write");
        assert_eq!(std::fs::read(&out).expect("read"), b"two");
        assert_eq!(names(&d), vec!["out.json"]);
    }

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_lock() {
        let d = dir("lock");
        let out = d.join("out.json");
        let first = Target::claim(&out, "--out").expect("claim");
        let error = Target::claim(&out, "--out").err().expect("refused");
        let message = format!("{error:#}");
        assert!(message.contains("another faultline"), "{message}");
        assert!(message.contains(".out.json.faultline-lock"), "{message}");
        drop(first);
        Target::claim(&out, "--out").expect("free again");
    }

    #[test]
    fn an_abandoned_temporary_is_removed_and_stale_ones_too() {
        let d = dir("stale");
        let out = d.join("out.json");
        std::fs::write(d.join(".out.json.99999-3.faultline-tmp"), b"x").expect("write");
        std::fs::write(d.join(".out.json.faultline-tmp"), b"x").expect("write");
        std::fs::write(d.join(".out.json.keep"), b"x").expect("write");
        let target = Target::claim(&out, "--out").expect("claim");
        let file = target.temporary().expect("tmp");
        drop(file);
        drop(target);
        assert_eq!(names(&d), vec![".out.json.keep"]);
    }

    #[test]
    fn non_regular_targets_are_refused() {
        let d = dir("kinds");
        let error = write_atomically(&d, "--out", b"x").expect_err("directory");
        assert!(format!("{error}").contains("is a directory"), "{error}");
        let error = write_atomically(Path::new("/dev/null"), "--out", b"x").expect_err("device");
        assert!(format!("{error}").contains("not a regular file"), "{error}");
    }
}
