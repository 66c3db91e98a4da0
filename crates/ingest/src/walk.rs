//! Expanding the paths a user names into files.

use std::path::{Path, PathBuf};

use crate::IngestError;

/// Files that are never articles: licences and notes beside a corpus.
fn is_ignored(name: &str) -> bool {
    name.starts_with('.') || matches!(name, "LICENSE" | "ABOUT.txt" | "README.TXT" | "README.md" | "README.txt")
}

/// Expands `paths` (files and folders, recursively) into `(root, file)`
/// pairs in a stable, sorted order. Unreadable paths are reported and skipped.
pub fn collect_files(paths: &[PathBuf]) -> (Vec<(PathBuf, PathBuf)>, Vec<IngestError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for root in paths {
        match std::fs::metadata(root) {
            Ok(m) if m.is_dir() => walk(root, root, &mut files, &mut errors),
            Ok(_) => files.push((root.clone(), root.clone())),
            Err(source) => errors.push(IngestError::Io { path: root.clone(), source }),
        }
    }
    (files, errors)
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(PathBuf, PathBuf)>, errors: &mut Vec<IngestError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(source) => {
            errors.push(IngestError::Io { path: dir.to_path_buf(), source });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if is_ignored(&name) {
            continue;
        }
        if p.is_dir() {
            walk(root, &p, files, errors);
        } else {
            files.push((root.to_path_buf(), p));
        }
    }
}
