//! Reading `.kpi` files and following their imports.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::project::Project;
use crate::ast;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, SourceFile, SourceMap};
use crate::syntax;

/// Largest `.kpi` file accepted; larger files are refused before they are read.
pub const MAX_SOURCE_BYTES: u64 = 8 << 20;

/// One parsed file and where its relative paths start from.
pub struct LoadedFile {
    pub id: FileId,
    pub base_dir: PathBuf,
    pub module: ast::Module,
    pub broken_names: Vec<String>,
}

/// Reads a file with the checks a CLI user needs: it exists, it is a regular file, it is
/// not too large, it is UTF-8. The error says which.
pub fn read_source(path: &Path) -> Result<String, (Code, String)> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(&bytes[..at]);
        let line = text.matches('\n').count() + 1;
        let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (
            Code::NotUtf8,
            format!(
                "{}:{line}:{column}: file is not valid UTF-8 (byte 0x{:02X})",
                shown(path),
                bytes[at]
            ),
        )
    })
}

/// Reads a file for checking: a file that is not UTF-8 is added to `sources` (with the
/// bad bytes replaced) so its diagnostic can point at the first bad byte.
pub fn read_checked(
    path: &Path,
    name: &str,
    sources: &mut SourceMap,
) -> Result<String, Diagnostic> {
    let bytes = read_bytes(path)
        .map_err(|(code, message)| Diagnostic::error(code, message).in_file(name.to_string()))?;
    String::from_utf8(bytes).map_err(|e| {
        let err = e.utf8_error();
        let bytes = e.as_bytes();
        let id = sources.add(SourceFile::new(name, String::from_utf8_lossy(bytes).into_owned()));
        crate::syntax::not_utf8(id, bytes, &err)
    })
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, (Code, String)> {
    let meta = std::fs::metadata(path).map_err(|e| {
        (Code::CannotRead, format!("cannot read {}: {}", shown(path), io_reason(&e)))
    })?;
    if meta.is_dir() {
        return Err((Code::CannotRead, format!("cannot read {}: it is a directory", shown(path))));
    }
    if !meta.is_file() {
        return Err((Code::CannotRead, format!("cannot read {}: not a regular file", shown(path))));
    }
    if meta.len() > MAX_SOURCE_BYTES {
        return Err((Code::FileTooLarge, too_large(&shown(path), meta.len())));
    }
    let file = std::fs::File::open(path).map_err(|e| {
        (Code::CannotRead, format!("cannot read {}: {}", shown(path), io_reason(&e)))
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| {
        (Code::CannotRead, format!("cannot read {}: {}", shown(path), io_reason(&e)))
    })?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err((Code::FileTooLarge, too_large(&shown(path), bytes.len() as u64)));
    }
    Ok(bytes)
}

/// The message for a source of `len` bytes, over [`MAX_SOURCE_BYTES`].
pub fn too_large(name: &str, len: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let mb = len as f64 / 1_000_000.0;
    format!("{name} is {mb:.1} MB; the limit is {} MiB", MAX_SOURCE_BYTES >> 20)
}

pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_string()
        }
    }
}

/// The file a check starts from: its name, text, directory and (when it is a file) path.
pub struct Root<'a> {
    pub name: &'a str,
    pub text: String,
    pub base_dir: &'a Path,
    pub path: Option<&'a Path>,
}

/// Parses the root file and, depth first, every file it imports. Imported definitions
/// come before the importer's. Import cycles are reported at the import that closes
/// them; an import outside the project is not read.
pub fn load(
    root: Root<'_>,
    project: &Project,
    sources: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> Vec<LoadedFile> {
    let Root { name, text, base_dir, path } = root;
    struct Frame {
        file: LoadedFile,
        canonical: Option<PathBuf>,
        imports: Vec<ast::StrLit>,
        next_import: usize,
    }
    impl Frame {
        fn new(file: LoadedFile, canonical: Option<PathBuf>) -> Frame {
            let imports = file
                .module
                .items
                .iter()
                .filter_map(|i| if let ast::Item::Import(s) = i { Some(s.clone()) } else { None })
                .collect();
            Frame { file, canonical, imports, next_import: 0 }
        }
    }
    // Lookups by path are hashed: an import chain thousands of files deep stays linear.
    let mut done: Vec<LoadedFile> = Vec::new();
    let mut finished: HashSet<PathBuf> = HashSet::new();
    let mut on_stack: HashMap<PathBuf, usize> = HashMap::new();
    let first = Frame::new(
        parse_file(name, text, base_dir.to_path_buf(), sources, diags),
        path.and_then(|p| std::fs::canonicalize(p).ok()),
    );
    on_stack.extend(first.canonical.clone().map(|c| (c, 0)));
    let mut stack = vec![first];
    while let Some(top) = stack.last_mut() {
        let Some(import) = top.imports.get(top.next_import).cloned() else {
            let frame = stack.pop().expect("the loop only runs with a frame on the stack");
            if let Some(c) = frame.canonical {
                on_stack.remove(&c);
                finished.insert(c);
            }
            done.push(frame.file);
            continue;
        };
        top.next_import += 1;
        let outside = project.confine(
            &import.value,
            &top.file.base_dir,
            import.span,
            "import",
            "import only files inside the project",
        );
        if let Some(d) = outside {
            diags.push(d);
            continue;
        }
        let path = super::project::join_written(&top.file.base_dir, &import.value);
        let canonical = std::fs::canonicalize(&path).ok();
        if let Some(c) = &canonical {
            if let Some(&pos) = on_stack.get(c) {
                let chain: Vec<String> = stack[pos..]
                    .iter()
                    .map(|f| sources.get(f.file.id).map_or(String::new(), |s| s.name.clone()))
                    .chain([display(&path)])
                    .collect();
                diags.push(
                    Diagnostic::error(
                        Code::ImportCycle,
                        format!("import cycle: {}", cycle_text(&chain)),
                    )
                    .at(import.span, "this import closes the cycle")
                    .help("move the shared definitions into a file that both import"),
                );
                continue;
            }
            if finished.contains(c) {
                continue;
            }
        }
        match read_checked(&path, &display(&path), sources) {
            Ok(text) => {
                let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                let file = parse_file(&display(&path), text, base, sources, diags);
                if let Some(c) = &canonical {
                    on_stack.insert(c.clone(), stack.len());
                }
                stack.push(Frame::new(file, canonical));
            }
            Err(mut d) if d.labels.is_empty() => {
                if d.code == Code::CannotRead {
                    d.code = Code::ImportNotFound;
                }
                d.file = None;
                diags.push(d.at(import.span, "imported here"));
            }
            Err(d) => diags.push(d.also(import.span, "imported here")),
        }
    }
    done
}

pub fn parse_file(
    name: &str,
    text: String,
    base_dir: PathBuf,
    sources: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> LoadedFile {
    // A byte-order mark is not part of the text (columns on line 1 stay right).
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    let id = sources.add(SourceFile::new(name, text));
    let text = sources.get(id).map_or("", |f| f.text.as_str());
    let parsed = syntax::parse(id, text);
    diags.extend(parsed.diagnostics);
    LoadedFile { id, base_dir, module: parsed.module, broken_names: parsed.broken_names }
}

/// The files of an import cycle, joined by arrows; a long cycle shows its first and last
/// files and how many are between.
fn cycle_text(chain: &[String]) -> String {
    const SHOWN: usize = 4;
    if chain.len() <= 2 * SHOWN + 1 {
        return chain.join(" → ");
    }
    let (head, tail) = (&chain[..SHOWN], &chain[chain.len() - SHOWN..]);
    let between = chain.len() - 2 * SHOWN;
    format!("{} → … {between} more files … → {}", head.join(" → "), tail.join(" → "))
}

fn display(path: &Path) -> String {
    let s = path.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// A path in a message: on one line, control characters escaped (`import "a\nb"`).
fn shown(path: &Path) -> String {
    crate::render::escape::sanitize_line(&path.display().to_string())
}
