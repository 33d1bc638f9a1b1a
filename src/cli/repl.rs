//! `kpiblend repl`: the session of `kpiblend::repl` behind a line editor.
//!
//! On a terminal: rustyline with completion, hints, multi-line input, history in the
//! user's state directory, and Ctrl-C that interrupts a running query. Without a
//! terminal (a script piped in): plain line reading, no prompts, exit 1 if any input
//! failed.

use std::borrow::Cow;
use std::io::{BufRead as _, IsTerminal as _};
use std::path::{Path, PathBuf};

use clap::Args;
use kpiblend::render::escape::sanitize_line;
use kpiblend::repl::{Session, complete};
use kpiblend::syntax::Incomplete;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};

use super::output::{Closed, eprint};
use super::{ColorChoice, Out, Outcome};

#[derive(Args, Default)]
pub struct ReplArgs {
    /// A KPI file to load first
    pub file: Option<PathBuf>,
    /// Read a dataset from another file: NAME=PATH
    #[arg(long = "data", value_name = "NAME=PATH", value_parser = super::data_override())]
    pub data: Vec<(String, PathBuf)>,
    /// Override a param: NAME=VALUE
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = super::parse_param_override)]
    pub params: Vec<(String, String)>,
}

pub fn run(args: &ReplArgs, color: ColorChoice) -> Result<Outcome, Closed> {
    let data: Vec<&str> = args.data.iter().map(|(n, _)| n.as_str()).collect();
    if let Err(outcome) =
        super::params_given_once(&args.params).and_then(|()| super::given_once("--data", &data))
    {
        return Ok(outcome);
    }
    let interactive = std::io::stdin().is_terminal();
    let mut session = Session::new();
    session.set_color(interactive && super::use_color(color, std::io::stdout().is_terminal()));
    session.set_overrides(args.params.clone(), args.data.clone());
    if let Some(file) = &args.file
        && let Err(outcome) = overrides_fit(file, args, color)
    {
        return Ok(outcome);
    }
    let mut failed = false;
    let mut out = Out::stdout();
    if let Some(file) = &args.file {
        let reply = session.load(file);
        failed |= !reply.ok;
        show(&mut out, &reply)?;
    }
    if interactive { interactive_loop(session, out) } else { batch(session, out, failed) }
}

/// `--param` and `--data` must name a param and a dataset of the file: a session would
/// otherwise start with every definition refused (exit 2, as in `eval`).
fn overrides_fit(file: &Path, args: &ReplArgs, color: ColorChoice) -> Result<(), Outcome> {
    if args.params.is_empty() && args.data.is_empty() {
        return Ok(());
    }
    let opts = kpiblend::check::CheckOptions {
        params: args.params.clone(),
        data: args.data.clone(),
        ..Default::default()
    };
    let checked = kpiblend::check::check_path(file, &opts);
    let unfit: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.code == kpiblend::diagnostic::Code::BadOverride)
        .collect();
    if unfit.is_empty() {
        return Ok(());
    }
    let color = super::use_color(color, std::io::stderr().is_terminal());
    for d in unfit {
        eprint(&kpiblend::render::diagnostics::human(d, &checked.program.sources, color));
    }
    Err(Outcome::Failure)
}

/// A `:` command's error in a script, with the script line it came from (statements'
/// diagnostics carry their own place).
fn placed(mut reply: kpiblend::repl::Reply, input: &str, line: usize) -> kpiblend::repl::Reply {
    if !reply.ok && input.trim_start().starts_with(':') && !reply.err.is_empty() {
        reply.err = format!("<input>:{line}: {}", reply.err);
    }
    reply
}

fn show(out: &mut Out, reply: &kpiblend::repl::Reply) -> Result<(), Closed> {
    out.write(&reply.out)?;
    out.flush()?;
    eprint(&reply.err);
    Ok(())
}

/// Lines from a pipe: statements may span lines; no prompts, no colour.
fn batch(mut session: Session, mut out: Out, mut failed: bool) -> Result<Outcome, Closed> {
    let stdin = std::io::stdin();
    let mut reader = stdin.lock();
    let mut pending = String::new();
    let mut ready: Option<(String, usize)> = None;
    let mut scan = Incomplete::default();
    let mut line_no = 0;
    let mut start = 0;
    let mut buf = Vec::new();
    // A line longer than a KPI file may be is not kept whole (`repl < /dev/zero`).
    let limit = kpiblend::check::MAX_SOURCE_BYTES;
    loop {
        buf.clear();
        let mut line = std::io::Read::take(std::io::Read::by_ref(&mut reader), limit + 1);
        match line.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprint(&format!("error: cannot read input: {e}\n"));
                return Ok(super::Outcome::Failure);
            }
        }
        line_no += 1;
        if buf.len() as u64 > limit {
            eprint(&format!(
                "error: input line {line_no} is longer than {} MiB; the script stops here\n",
                limit >> 20
            ));
            return Ok(Outcome::Findings);
        }
        let line = match std::str::from_utf8(&buf) {
            Ok(s) => s.trim_end_matches(['\n', '\r']).to_string(),
            Err(_) => {
                eprint(&format!("error: input line {line_no} is not valid UTF-8; skipped\n"));
                failed = true;
                continue;
            }
        };
        // A finished statement waits for the next line: a clause on its own line
        // (`    unit seconds`) goes on it, as in a file.
        if let Some((text, at)) = ready.take() {
            let comment = line.trim_start().starts_with('#');
            if !text.trim_start().starts_with(':')
                && (comment || kpiblend::syntax::continues_statement(&line))
            {
                pending = text;
                start = at;
            } else {
                let reply = run_one(&mut session, &text, at);
                failed |= !reply.ok;
                show(&mut out, &reply)?;
                if reply.quit {
                    return Ok(if failed { Outcome::Findings } else { Outcome::Ok });
                }
                scan = Incomplete::default();
            }
        }
        if pending.is_empty() {
            start = line_no;
        }
        pending.push_str(&line);
        pending.push('\n');
        scan.feed(&line);
        scan.feed("\n");
        if pending.len() as u64 > limit {
            eprint(&format!(
                "error: the statement that starts before line {line_no} is longer than {} MiB; the script stops here\n",
                limit >> 20
            ));
            return Ok(Outcome::Findings);
        }
        // As `Session::is_incomplete`, without scanning the statement again for each line.
        if !pending.trim_start().starts_with(':') && scan.is_incomplete() {
            continue;
        }
        ready = Some((std::mem::take(&mut pending), start));
    }
    for (text, at) in
        ready.into_iter().chain((!pending.trim().is_empty()).then_some((pending, start)))
    {
        let reply = run_one(&mut session, &text, at);
        failed |= !reply.ok;
        show(&mut out, &reply)?;
        if reply.quit {
            break;
        }
    }
    Ok(if failed { Outcome::Findings } else { Outcome::Ok })
}

/// Handles one statement of a script that starts at line `at`.
fn run_one(session: &mut Session, text: &str, at: usize) -> kpiblend::repl::Reply {
    session.set_input_line(at);
    placed(session.handle(text), text, at)
}

/// The editor's helper: completion, hints and multi-line input from the session.
struct KbHelper {
    session: std::rc::Rc<std::cell::RefCell<Session>>,
    files: FilenameCompleter,
}

impl Completer for KbHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let trimmed = line.trim_start();
        if [":load ", ":save ", ":data "].iter().any(|c| trimmed.starts_with(c)) {
            return self.files.complete(line, pos, ctx);
        }
        let session = self.session.borrow();
        let (start, candidates) = complete::complete(&session, line, pos);
        Ok((
            start,
            candidates.into_iter().map(|c| Pair { display: c.clone(), replacement: c }).collect(),
        ))
    }
}

impl Hinter for KbHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        complete::hint(&self.session.borrow(), line, pos)
    }
}

impl Highlighter for KbHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
    }
}

impl Validator for KbHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if self.session.borrow().is_incomplete(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

impl Helper for KbHelper {}

fn interactive_loop(session: Session, mut out: Out) -> Result<Outcome, Closed> {
    let cancel = session.cancel.clone();
    // Ctrl-C while a query runs stops it; at the prompt the editor sees it as a key.
    let _ = ctrlc::set_handler(move || cancel.store(true, std::sync::atomic::Ordering::Relaxed));
    let session = std::rc::Rc::new(std::cell::RefCell::new(session));
    let config = rustyline::Config::builder().auto_add_history(false);
    // rustyline keeps 100 entries by default and rewrites the file to that many.
    let config = config.max_history_size(HISTORY_ENTRIES).map_or_else(
        |_| rustyline::Config::builder().auto_add_history(false).build(),
        rustyline::config::Builder::build,
    );
    let mut editor: Editor<KbHelper, FileHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprint(&format!("error: cannot start the line editor: {e}\n"));
            return Ok(Outcome::Failure);
        }
    };
    editor.set_helper(Some(KbHelper { session: session.clone(), files: FilenameCompleter::new() }));
    let history = history_path();
    if history.is_none() {
        eprint(
            "warning: history is off this session: set KPIBLEND_HISTORY, XDG_STATE_HOME or HOME to keep it\n",
        );
    }
    let history_ok = history.as_deref().is_some_and(|p| load_history(&mut editor, p));
    out.line("kpiblend repl — :help for commands, Ctrl-D to leave")?;
    out.flush()?;
    let mut interrupted_once = false;
    loop {
        match editor.readline("kb> ") {
            Ok(line) => {
                interrupted_once = false;
                if line.trim().is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line.as_str());
                if let (true, Some(p)) = (history_ok, &history)
                    && let Err(e) = editor.append_history(p)
                {
                    eprint(&format!("warning: cannot write history to {}: {e}\n", p.display()));
                }
                let reply = session.borrow_mut().handle(&line);
                show(&mut out, &reply)?;
                if reply.quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                if interrupted_once {
                    break;
                }
                interrupted_once = true;
                eprint("(Ctrl-C again or Ctrl-D to leave)\n");
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprint(&format!("error: {e}\n"));
                return Ok(Outcome::Failure);
            }
        }
    }
    Ok(Outcome::Ok)
}

/// `$KPIBLEND_HISTORY`, else `$XDG_STATE_HOME/kpiblend/history`, else
/// `~/.local/state/kpiblend/history`.
fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KPIBLEND_HISTORY").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|p| !p.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(state.join("kpiblend/history"))
}

/// Entries of history kept: older ones are dropped from the file as new ones come.
const HISTORY_ENTRIES: usize = 10_000;

/// Loads history; a file that cannot be read is kept aside (never overwritten) and
/// history is then not saved this session. Returns whether saving is safe.
fn load_history(editor: &mut Editor<KbHelper, FileHistory>, path: &Path) -> bool {
    // A device or a pipe (`/dev/zero`) would be read without end, or replaced by a file.
    if let Ok(m) = std::fs::metadata(path)
        && !m.is_file()
    {
        eprint(&format!(
            "warning: history disabled: {} is not a regular file\n",
            sanitize_line(&path.display().to_string())
        ));
        return false;
    }
    // Saving rewrites the file to the last entries: say so before any is lost.
    let lines = std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
    if lines > HISTORY_ENTRIES + 1 {
        eprint(&format!(
            "note: {} holds about {lines} entries; the REPL keeps the last {HISTORY_ENTRIES} and drops the rest when it saves\n",
            path.display()
        ));
    }
    if let Some(dir) = path.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprint(&format!("warning: history disabled: cannot create {}: {e}\n", dir.display()));
        return false;
    }
    match editor.load_history(path) {
        Ok(()) => true,
        Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let aside = path.with_extension(format!("bad-{stamp}"));
            match std::fs::rename(path, &aside) {
                Ok(()) => {
                    eprint(&format!(
                        "warning: history file {} could not be read ({e}); kept as {}\n",
                        path.display(),
                        aside.display()
                    ));
                    editor.clear_history().is_ok()
                }
                Err(_) => {
                    eprint(&format!(
                        "warning: history disabled: {} could not be read ({e})\n",
                        path.display()
                    ));
                    false
                }
            }
        }
    }
}
