//! Writing files safely: an atomic replacement that never leaves a partial file.

/// Write `data` to `path` atomically: a temporary file in the same folder, synced,
/// given `mode` (Unix permissions, e.g. 0o600 for secrets), then renamed over `path`.
/// On any error the temporary file is removed and `path` is left as it was.
pub fn write_atomic(path: &std::path::Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    use anyhow::{Context, anyhow};
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("cannot write {}: not a file name", path.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| {
            // tempfile's message ends with " at path <its random name>"; drop that.
            let text = e.to_string();
            let cause = text.split(" at path ").next().unwrap_or_default().to_string();
            anyhow!(
                "cannot write {}: cannot create a file in {}: {cause}; check that the folder exists and is writable",
                path.display(),
                dir.display()
            )
        })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}
