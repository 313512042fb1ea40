//! Embeds the web UI, when it has been built (`scripts/build-ui.sh` writes
//! `ui/dist`), so that one binary serves it. Without it the binary still builds and
//! serves the API, and its front page says how to build the UI.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, root, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push((rel.to_string_lossy().replace('\\', "/"), p));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = manifest.join("../../ui/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!("cargo:rerun-if-env-changed=TYTO_UI_DIST");
    let dist = std::env::var_os("TYTO_UI_DIST").map(PathBuf::from).unwrap_or(dist);
    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        walk(&dist, &dist, &mut files);
    }
    files.sort();
    let mut code = String::from(
        "/// The built web UI: (path under the UI root, contents).\npub static UI_FILES: &[(&str, &[u8])] = &[\n",
    );
    for (rel, path) in &files {
        let abs = path.canonicalize().unwrap_or_else(|_| path.clone());
        writeln!(code, "    ({rel:?}, include_bytes!({:?})),", abs.display().to_string()).expect("string");
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("ui_files.rs");
    std::fs::write(out, code).expect("writing ui_files.rs");
}
