//! Writing files safely: an atomic replacement that never leaves a partial file, and
//! file names from peers reduced to ones that stay in their folder.

/// Write `data` to `path` atomically: a temporary file in the same folder, synced,
/// given `mode` (Unix permissions, e.g. 0o600 for secrets), then renamed over `path`.
/// On any error the temporary file is removed and `path` is left as it was.
pub fn write_atomic(path: &std::path::Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let mut file = Atomic::create(path, mode)?;
    file.file()
        .write_all(data)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.commit()
}

/// A file being written in place of `path`: a temporary file in the same folder
/// with `mode`, renamed over `path` by [`Atomic::commit`]; dropped without a
/// commit, it is removed and `path` is left as it was.
pub struct Atomic {
    tmp: tempfile::NamedTempFile,
    path: std::path::PathBuf,
}

impl Atomic {
    /// Create the temporary file for `path`.
    pub fn create(path: &std::path::Path, mode: u32) -> anyhow::Result<Atomic> {
        use anyhow::anyhow;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| anyhow!("cannot write {}: not a file name", path.display()))?;
        let tmp = tempfile::Builder::new()
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
            use anyhow::Context;
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        Ok(Atomic {
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// The temporary file, to write (and read back) through.
    pub fn file(&mut self) -> &mut std::fs::File {
        self.tmp.as_file_mut()
    }

    /// Sync the file and rename it over the path.
    pub fn commit(self) -> anyhow::Result<()> {
        use anyhow::{Context, anyhow};
        self.tmp
            .as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        let path = self.path;
        self.tmp
            .persist(&path)
            .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error))?;
        Ok(())
    }
}

/// What [`safe_file_name`] does with a leading dot (a hidden file on Unix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadingDots {
    /// Remove them: `.bashrc` becomes `bashrc`.
    Strip,
    /// Refuse the name.
    Refuse,
    /// Keep them (hidden files allowed); `.` and `..` are still refused.
    Keep,
}

/// What [`safe_file_name`] does with control characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlChars {
    /// Remove every control character.
    Drop,
    /// Refuse a name with a NUL byte; keep other control characters as they are.
    RefuseNul,
}

/// How [`safe_file_name`] reduces a name that came from a peer (a server's
/// Content-Disposition, a URL, a browser's upload) to one that is safe to create.
#[derive(Debug, Clone, Copy)]
pub struct FileNameRules {
    /// Keep only the last path component (after `/` or `\`), so that `../../x` is `x`.
    pub last_component: bool,
    /// Replace every character but ASCII letters, digits, `.` and `-` with `_`
    /// (separators included), for names made from URLs.
    pub portable: bool,
    /// Control characters.
    pub control: ControlChars,
    /// Leading dots.
    pub leading_dots: LeadingDots,
    /// Cut the name to this many characters.
    pub max_chars: Option<usize>,
}

/// `raw` as one file name that stays in the folder it is created in, or `None` when
/// nothing usable is left (empty, `.`, `..`) or the rules refuse it. Surrounding
/// whitespace is trimmed.
pub fn safe_file_name(raw: &str, rules: &FileNameRules) -> Option<String> {
    let mut name = if rules.last_component {
        raw.rsplit(['/', '\\']).next().unwrap_or("").to_string()
    } else {
        raw.to_string()
    };
    if rules.portable {
        name = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
    }
    match rules.control {
        ControlChars::Drop => name.retain(|c| !c.is_control()),
        ControlChars::RefuseNul if name.contains('\0') => return None,
        ControlChars::RefuseNul => {}
    }
    let mut name = name.trim();
    match rules.leading_dots {
        LeadingDots::Strip => name = name.trim_start_matches('.'),
        LeadingDots::Refuse if name.starts_with('.') => return None,
        LeadingDots::Refuse | LeadingDots::Keep => {}
    }
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    Some(match rules.max_chars {
        Some(n) => name.chars().take(n).collect(),
        None => name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUGGESTED: FileNameRules = FileNameRules {
        last_component: true,
        portable: false,
        control: ControlChars::Drop,
        leading_dots: LeadingDots::Strip,
        max_chars: None,
    };

    #[test]
    fn traversal_names_keep_only_the_last_component() {
        let s = |raw: &str| safe_file_name(raw, &SUGGESTED);
        assert_eq!(s("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(s("..\\..\\win.ini").as_deref(), Some("win.ini"));
        assert_eq!(s("dir/"), None);
        assert_eq!(s(".."), None);
        assert_eq!(s("."), None);
        assert_eq!(s(""), None);
        assert_eq!(s("   "), None);
    }

    #[test]
    fn control_bytes_and_nul() {
        assert_eq!(
            safe_file_name("a\u{7}b\0c\n", &SUGGESTED).as_deref(),
            Some("abc")
        );
        let upload = FileNameRules {
            control: ControlChars::RefuseNul,
            leading_dots: LeadingDots::Keep,
            ..SUGGESTED
        };
        assert_eq!(safe_file_name("a\0b", &upload), None);
        assert_eq!(
            safe_file_name("a\u{7}b", &upload).as_deref(),
            Some("a\u{7}b")
        );
    }

    #[test]
    fn leading_dots() {
        assert_eq!(safe_file_name("..x", &SUGGESTED).as_deref(), Some("x"));
        assert_eq!(safe_file_name("...", &SUGGESTED), None);
        let refuse = FileNameRules {
            leading_dots: LeadingDots::Refuse,
            ..SUGGESTED
        };
        assert_eq!(safe_file_name(".env", &refuse), None);
        assert_eq!(safe_file_name("a.env", &refuse).as_deref(), Some("a.env"));
        let keep = FileNameRules {
            leading_dots: LeadingDots::Keep,
            ..SUGGESTED
        };
        assert_eq!(safe_file_name(".env", &keep).as_deref(), Some(".env"));
        assert_eq!(safe_file_name("..", &keep), None);
    }

    #[test]
    fn portable_names_from_urls() {
        let flat = FileNameRules {
            last_component: false,
            portable: true,
            max_chars: Some(8),
            leading_dots: LeadingDots::Keep,
            ..SUGGESTED
        };
        assert_eq!(
            safe_file_name("h/a b?\0é", &flat).as_deref(),
            Some("h_a_b___")
        );
        assert_eq!(
            safe_file_name("x/../../y", &flat).as_deref(),
            Some("x_.._.._")
        );
    }
}
