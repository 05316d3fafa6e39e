//! Files the binary writes: atomically (temporary file beside the target, then rename), and
//! never over a scenario the user wrote.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// A file written beside its final path and renamed into place when complete, so a reader never
/// sees half of it and a failed replay leaves an older file intact.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
}

impl AtomicFile {
    pub fn create(path: &Path, flag: &str) -> Result<AtomicFile> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .with_context(|| format!("{flag} {} is not a file path", path.display()))?;
        let tmp = dir.join(format!(".{}.faultline-tmp", name.to_string_lossy()));
        let file = File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        Ok(AtomicFile {
            path: path.to_owned(),
            tmp,
            out: BufWriter::new(file),
        })
    }

    /// Flushes the file and moves it into place.
    pub fn commit(mut self) -> Result<()> {
        let flushed = self.out.flush();
        if let Err(e) = flushed {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(e).with_context(|| format!("cannot write {}", self.tmp.display()));
        }
        std::fs::rename(&self.tmp, &self.path).with_context(|| {
            let _ = std::fs::remove_file(&self.tmp);
            format!("cannot move the file into place at {}", self.path.display())
        })
    }

    /// Gives up: removes the temporary file.
    pub fn abandon(self) {
        let tmp = self.tmp.clone();
        drop(self);
        let _ = std::fs::remove_file(tmp);
    }

    /// The temporary file being written.
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// The writer of the temporary file.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.out
    }
}

/// Writes `bytes` to `path` atomically: a reader never sees half a file and an interrupted
/// write leaves the old file intact.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path, "--out")?;
    if let Err(e) = file.writer().write_all(bytes) {
        file.abandon();
        return Err(e).context("cannot write the file");
    }
    file.commit()
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
