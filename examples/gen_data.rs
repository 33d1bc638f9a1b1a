//! Seeded, deterministic generator of realistic contact-center CSV exports.
//!
//! ```text
//! cargo run --release --example gen_data -- [--calls N] [--seed S] [--out DIR] [--extra-text-columns K]
//! ```
//!
//! Writes two files that look like what a contact-center platform and a
//! survey tool would export:
//!
//! * `DIR/calls.csv`: one row per contact (voice, chat or email) with queue,
//!   site, team, agent, the handling-time components, the outcome flags, a
//!   cost and a free-text disposition note (RFC 4180 quoting, with commas,
//!   doubled quotes and the occasional embedded newline).
//! * `DIR/surveys.csv`: post-contact surveys (CSAT 1-5, NPS 0-10, CES 1-7
//!   where higher = easier) for roughly a quarter of the handled contacts,
//!   linked by `contact_id`, plus a few orphans whose `contact_id` does not
//!   exist in `calls.csv` and a few blank answers.
//!
//! Only the standard library is used: the PRNG is xoshiro256** seeded through
//! SplitMix64, and normal/lognormal/exponential draws are built on top of it.
//! Nothing depends on the clock, on hash-map order or on threads, so the same
//! arguments always give byte-identical files (on the same platform: the
//! draws go through `f64::ln`/`exp`/`cos`, whose last bit is up to the libm).
//!
//! # How the data hangs together
//!
//! Operations are generated first, and customer experience is derived from
//! them, so the relationships a KPI tool is meant to surface are really there:
//!
//! * Volume follows hour-of-day and day-of-week profiles over the 12 ISO weeks
//!   starting Monday 2026-01-05. On Saturday 2026-03-14 a billing outage
//!   roughly doubles the volume (mostly billing) and multiplies waits.
//!   Mondays have longer waits too.
//! * Waits are lognormal (heavy tail). Each caller has an exponentially
//!   distributed patience; if it runs out before the wait does, the contact is
//!   abandoned after waiting exactly that long, so abandonment rises with the
//!   wait, and abandoned contacts have no agent and no handling times.
//! * Each of the ~60 agents belongs to one team (and so one site) and has a
//!   persistent skill factor (a z-score, a little higher in-house). Skill
//!   shortens talk time, lowers transfer/escalation odds, and raises the odds
//!   of first-contact resolution; complexity and transfers lower them.
//! * A survey answer is driven by a latent satisfaction score: a skill bonus,
//!   minus penalties for waiting, holding, being transferred or escalated and
//!   leaving unresolved, plus the respondent's mood. The wait and hold
//!   penalties grow with the log of the seconds. CSAT and NPS are noisy,
//!   clamped readings of that score; CES (ease) reads a separate effort score
//!   that weighs waiting, holding and transfers more heavily. Averages over the
//!   whole sample land at CSAT ~4.2, NPS ~+30 and CES ~5.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: gen_data [--calls N] [--seed S] [--out DIR] [--extra-text-columns K]
  --calls N               number of contacts to generate (default 5000)
  --seed S                PRNG seed, an unsigned 64-bit integer (default 42)
  --out DIR               output directory, created if missing (default examples/data)
  --extra-text-columns K  append K free-text columns extra_1..extra_K to calls.csv (default 0, max 1000)";

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

struct Args {
    calls: usize,
    seed: u64,
    out: PathBuf,
    extra: usize,
}

/// `Ok(None)` means `--help` was asked for.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args { calls: 5000, seed: 42, out: PathBuf::from("examples/data"), extra: 0 };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if !matches!(flag.as_str(), "--calls" | "--seed" | "--out" | "--extra-text-columns") {
            return Err(format!("unknown argument `{arg}`"));
        }
        let value = match inline {
            Some(v) => v,
            None => it.next().ok_or_else(|| format!("`{flag}` needs a value"))?,
        };
        let bad = || format!("invalid value `{value}` for `{flag}`");
        match flag.as_str() {
            "--calls" => args.calls = value.parse().map_err(|_| bad())?,
            "--seed" => args.seed = value.parse().map_err(|_| bad())?,
            "--out" if !value.is_empty() => args.out = PathBuf::from(&value),
            "--extra-text-columns" => match value.parse() {
                Ok(k) if k <= 1000 => args.extra = k,
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        }
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("gen_data: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match generate(&args) {
        Ok((calls, surveys, orphans)) => {
            eprintln!(
                "gen_data: seed {}: wrote {calls} rows to {}, {surveys} rows to {} ({orphans} with an unknown contact_id)",
                args.seed,
                args.out.join("calls.csv").display(),
                args.out.join("surveys.csv").display(),
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_data: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------
// PRNG: xoshiro256** seeded via SplitMix64, plus distribution helpers
// ---------------------------------------------------------------------------

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Independent streams per purpose, so that e.g. adding extra text columns
    /// (which consume randomness) leaves every other column unchanged.
    fn new(seed: u64, stream: u64) -> Self {
        let mut a = seed;
        let mut b = stream ^ 0x6A09_E667_F3BC_C908;
        let mut sm = splitmix64(&mut a) ^ splitmix64(&mut b);
        let s =
            [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        Rng { s }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n) (multiply-shift; the bias is < n / 2^64).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform integer in [lo, hi].
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn bernoulli(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Standard normal (Box-Muller; the second value is simply discarded).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.f64(); // (0, 1], keeps ln finite
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Lognormal parameterised by its median and the sigma of its log.
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }

    /// Index drawn proportionally to `weights` (small slices only).
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

// ---------------------------------------------------------------------------
// Calendar (Howard Hinnant's days_from_civil / civil_from_days)
// ---------------------------------------------------------------------------

/// Days since 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) for days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

// ---------------------------------------------------------------------------
// The contact center's shape
// ---------------------------------------------------------------------------

const DAYS: usize = 12 * 7;
const SECS_PER_DAY: u32 = 86_400;

/// Relative contact volume by hour of day (UTC is the centre's local time).
const HOUR_WEIGHT: [f64; 24] = [
    0.04, 0.03, 0.02, 0.02, 0.03, 0.06, 0.15, 0.45, 0.95, 1.15, 1.20, 1.15, 0.95, 1.00, 1.10, 1.05,
    0.95, 0.80, 0.55, 0.35, 0.25, 0.18, 0.12, 0.07,
];
/// Relative volume by ISO weekday, Monday first.
const WEEKDAY_WEIGHT: [f64; 7] = [1.15, 1.05, 1.00, 1.00, 0.95, 0.45, 0.30];

const CHANNELS: [&str; 3] = ["voice", "chat", "email"];
const CHANNEL_WEIGHT: [f64; 3] = [0.70, 0.20, 0.10];
/// Median wait (s) and mean caller patience (s) per channel: email
/// customers practically never give up.
const CHANNEL_WAIT_MEDIAN: [f64; 3] = [14.0, 9.0, 40.0];
const CHANNEL_PATIENCE: [f64; 3] = [380.0, 500.0, 50_000.0];

const QUEUES: [&str; 4] = ["billing", "tech_support", "sales", "retention"];
const BILLING: usize = 0;
const TECH: usize = 1;
const RETENTION: usize = 3;
const QUEUE_WEIGHT: [f64; 4] = [0.35, 0.30, 0.20, 0.15];
const QUEUE_WEIGHT_OUTAGE: [f64; 4] = [0.62, 0.18, 0.12, 0.08];
/// Median talk time (s) per queue, before complexity/agent/channel factors.
const QUEUE_TALK_MEDIAN: [f64; 4] = [250.0, 380.0, 290.0, 340.0];

const COMPLEXITY: [&str; 3] = ["low", "medium", "high"];
const HIGH: usize = 2;
/// Complexity mix per queue (tech support skews complex).
const COMPLEXITY_WEIGHT: [[f64; 3]; 4] =
    [[0.55, 0.33, 0.12], [0.30, 0.42, 0.28], [0.55, 0.35, 0.10], [0.40, 0.40, 0.20]];
const COMPLEXITY_TALK: [f64; 3] = [0.75, 1.0, 1.55];

const SITES: [&str; 3] = ["in-house", "bpo-manila", "bpo-cairo"];
/// Site mix per queue: retention stays mostly in-house.
const SITE_WEIGHT: [[f64; 3]; 4] =
    [[0.35, 0.40, 0.25], [0.50, 0.30, 0.20], [0.30, 0.40, 0.30], [0.85, 0.10, 0.05]];
const SITE_WAIT_FACTOR: [f64; 3] = [0.90, 1.0, 1.15];
const SITE_SKILL_MEAN: [f64; 3] = [0.20, 0.0, -0.15];
/// Fully loaded cost per handled minute.
const SITE_RATE_PER_MIN: [f64; 3] = [1.10, 0.45, 0.40];

/// (team, site index, number of agents): 60 agents in all.
const TEAMS: [(&str, usize, usize); 5] =
    [("ih-a", 0, 14), ("ih-b", 0, 13), ("mnl-1", 1, 12), ("mnl-2", 1, 11), ("cai-1", 2, 10)];

/// Cost of an abandoned contact (IVR and telephony only), in cents.
const ABANDONED_COST_CENTS: u64 = 35;
const SURVEY_RATE: f64 = 0.235;
/// An orphan survey is slipped in every 200-460 surveys (~0.3%): spaced
/// rather than Bernoulli so that even a 5000-call sample gets a handful.
const ORPHAN_GAP: (u64, u64) = (200, 460);
const BLANK_ANSWER_RATE: f64 = 0.04;

struct Agent {
    /// Persistent z-score-like skill; positive is better.
    skill: f64,
    /// Share of the team's contacts this agent takes (part-timers take fewer).
    load: f64,
}

struct Team {
    site: usize,
    /// Index of the team's first agent in the agent table (ids are 1-based).
    first_agent: usize,
    agents: Vec<Agent>,
    /// `agents[i].load`, laid out for `Rng::weighted`.
    loads: Vec<f64>,
}

fn build_teams(rng: &mut Rng) -> Vec<Team> {
    let mut first_agent = 0;
    TEAMS
        .iter()
        .map(|&(_, site, n)| {
            let agents = (0..n)
                .map(|_| Agent {
                    skill: (SITE_SKILL_MEAN[site] + 0.8 * rng.normal()).clamp(-2.0, 2.0),
                    load: if rng.bernoulli(0.2) { 0.5 } else { 0.9 + 0.2 * rng.f64() },
                })
                .collect::<Vec<_>>();
            let loads = agents.iter().map(|a| a.load).collect();
            let team = Team { site, first_agent, agents, loads };
            first_agent += n;
            team
        })
        .collect()
}

/// Draw every start time (seconds since 2026-01-05T00:00:00Z) from the
/// hour x weekday profile, then sort so contact ids follow time.
fn draw_start_times(rng: &mut Rng, n: usize, outage_day: usize) -> Vec<u32> {
    let mut cumulative = Vec::with_capacity(DAYS * 24);
    let mut total = 0.0;
    for day in 0..DAYS {
        let day_weight = WEEKDAY_WEIGHT[day % 7] * if day == outage_day { 2.0 } else { 1.0 };
        for hour_weight in HOUR_WEIGHT {
            total += day_weight * hour_weight;
            cumulative.push(total);
        }
    }
    let mut starts: Vec<u32> = (0..n)
        .map(|_| {
            let x = rng.f64() * total;
            let slot = cumulative.partition_point(|&c| c <= x).min(DAYS * 24 - 1);
            slot as u32 * 3600 + rng.below(3600) as u32
        })
        .collect();
    starts.sort_unstable();
    starts
}

// ---------------------------------------------------------------------------
// Disposition notes
// ---------------------------------------------------------------------------

const NOTES: [&[&str]; 4] = [
    &[
        "Explained invoice charges",
        "Refund issued, confirmation email sent",
        "Updated payment method",
        "Disputed late fee, waived once as goodwill",
        "Billing address corrected",
        "Customer reports double charge, refund pending",
        "Set up payment plan over 3 months",
    ],
    &[
        "Router restarted, connection restored",
        "Password reset; identity verified",
        "Walked through app reinstall",
        "Known firmware bug KB-1042, workaround given",
        "Slow speeds reported, line test OK",
        "No dial tone, technician booked",
        "Error 0x80070005 on login",
    ],
    &[
        "Upgraded to premium plan",
        "Quoted bundle price, customer thinking it over",
        "New line added",
        "Asked about promo, not eligible",
        "Order placed, delivery in 3-5 days",
        "Price match request declined",
    ],
    &[
        "Cancellation request, offered 20% discount",
        "Saved with loyalty offer",
        "Customer insists on cancel, processed",
        "Contract end date explained",
        "Competitor offer matched, customer stays",
    ],
];

const QUOTES: [&str; 7] = [
    "thanks, bye",
    "this is the third time I call",
    "finally",
    "you've been very helpful",
    "I want to speak to a manager",
    "why is this so hard?",
    "ok, \"fine\"",
];

struct Outcome {
    queue: usize,
    transferred: bool,
    escalated: bool,
    resolved: bool,
}

fn write_note(rng: &mut Rng, o: &Outcome, note: &mut String) {
    use std::fmt::Write as _;
    note.clear();
    if rng.bernoulli(0.08) {
        return; // agents skip the note now and then
    }
    note.push_str(rng.pick(NOTES[o.queue]));
    if rng.bernoulli(0.12) {
        let _ = write!(note, ". Customer said \"{}\"", rng.pick(&QUOTES));
    }
    if o.transferred {
        let to = (o.queue + 1 + rng.below(3) as usize) % QUEUES.len();
        let _ = write!(note, ". Transferred to {}", QUEUES[to]);
    }
    if o.escalated {
        let _ = write!(note, "; escalated to tier 2, ticket #{}", rng.range(10_000, 99_999));
    }
    if !o.resolved && rng.bernoulli(0.5) {
        note.push_str(". Follow-up required");
    }
    if rng.bernoulli(0.005) {
        let _ = write!(
            note,
            "\nCallback requested for {:02}:00, customer prefers email",
            rng.range(9, 17)
        );
    }
}

// ---------------------------------------------------------------------------
// CSV output helpers (hand-rolled: this is the hot loop for 10M rows)
// ---------------------------------------------------------------------------

fn push_uint(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

fn push_2digits(buf: &mut Vec<u8>, n: u32) {
    buf.push(b'0' + (n / 10) as u8);
    buf.push(b'0' + (n % 10) as u8);
}

fn push_bool(buf: &mut Vec<u8>, b: bool) {
    buf.extend_from_slice(if b { b"true" } else { b"false" });
}

fn push_cents(buf: &mut Vec<u8>, cents: u64) {
    push_uint(buf, cents / 100);
    buf.push(b'.');
    push_2digits(buf, (cents % 100) as u32);
}

/// RFC 4180: quote only when needed, doubling embedded quotes.
fn push_text(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        buf.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

/// 20-60 characters of lowercase words separated by single spaces, starting
/// and ending with a letter (so no CSV reader trims or quotes it).
fn push_filler(buf: &mut Vec<u8>, rng: &mut Rng) {
    let len = rng.range(20, 60) as usize;
    let mut word_left = rng.range(2, 9);
    for i in 0..len {
        if word_left == 0 && i + 1 < len {
            buf.push(b' ');
            word_left = rng.range(2, 9);
        } else {
            buf.push(b'a' + rng.below(26) as u8);
            word_left = word_left.saturating_sub(1);
        }
    }
}

/// Survey answer rounded and clamped to its scale, or blank now and then.
fn push_score(buf: &mut Vec<u8>, rng: &mut Rng, x: f64, lo: f64, hi: f64) {
    if !rng.bernoulli(BLANK_ANSWER_RATE) {
        push_uint(buf, x.round().clamp(lo, hi) as u64);
    }
}

// ---------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------

/// Returns (calls rows, survey rows, orphan survey rows).
fn generate(args: &Args) -> io::Result<(usize, u64, u64)> {
    // One stream per concern; see `Rng::new`.
    let mut agent_rng = Rng::new(args.seed, 1);
    let mut time_rng = Rng::new(args.seed, 2);
    let mut rng = Rng::new(args.seed, 3);
    let mut survey_rng = Rng::new(args.seed, 4);
    let mut text_rng = Rng::new(args.seed, 5);

    let start_day = days_from_civil(2026, 1, 5);
    debug_assert_eq!((start_day + 3).rem_euclid(7), 0, "must be a Monday");
    let outage_day = (days_from_civil(2026, 3, 14) - start_day) as usize;
    // "YYYY-MM-DDT" for each of the 84 days.
    let date_prefix: Vec<String> = (0..DAYS as i64)
        .map(|d| {
            let (y, m, d) = civil_from_days(start_day + d);
            format!("{y:04}-{m:02}-{d:02}T")
        })
        .collect();

    let teams = build_teams(&mut agent_rng);
    let teams_by_site: Vec<Vec<usize>> = (0..SITES.len())
        .map(|s| (0..teams.len()).filter(|&t| teams[t].site == s).collect())
        .collect();
    let starts = draw_start_times(&mut time_rng, args.calls, outage_day);

    fs::create_dir_all(&args.out)?;
    let mut calls_out =
        BufWriter::with_capacity(8 << 20, File::create(args.out.join("calls.csv"))?);
    let mut surveys_out =
        BufWriter::with_capacity(2 << 20, File::create(args.out.join("surveys.csv"))?);

    let mut line = Vec::with_capacity(512);
    line.extend_from_slice(
        b"contact_id,started_at,channel,queue,site,team,agent_id,wait_s,talk_s,hold_s,acw_s,\
          abandoned,transferred,escalated,resolved_first_contact,repeat_7d,cost,complexity,\
          disposition_note",
    );
    for k in 1..=args.extra {
        line.extend_from_slice(b",extra_");
        push_uint(&mut line, k as u64);
    }
    line.push(b'\n');
    calls_out.write_all(&line)?;
    surveys_out.write_all(b"survey_id,contact_id,csat,nps,ces\n")?;

    let mut note = String::with_capacity(256);
    let mut survey_line = Vec::with_capacity(64);
    let mut survey_id = 0u64;
    let mut orphans = 0u64;
    let mut next_orphan = survey_rng.range(ORPHAN_GAP.0 / 2, ORPHAN_GAP.1 / 2);

    for (i, &start) in starts.iter().enumerate() {
        let contact_id = i as u64 + 1;
        let day = (start / SECS_PER_DAY) as usize;
        let secs = start % SECS_PER_DAY;
        let hour = secs / 3600;
        let weekday = day % 7; // 0 = Monday
        let is_outage = day == outage_day;

        // --- routing -------------------------------------------------------
        let channel = rng.weighted(&CHANNEL_WEIGHT);
        let queue = rng.weighted(if is_outage { &QUEUE_WEIGHT_OUTAGE } else { &QUEUE_WEIGHT });
        let complexity = rng.weighted(&COMPLEXITY_WEIGHT[queue]);
        let site = rng.weighted(&SITE_WEIGHT[queue]);
        let site_teams = &teams_by_site[site];
        let team_idx = site_teams[rng.below(site_teams.len() as u64) as usize];
        let team = &teams[team_idx];

        // --- queueing and abandonment ---------------------------------------
        let mut wait_factor = SITE_WAIT_FACTOR[site];
        if weekday == 0 {
            wait_factor *= 1.35; // Monday backlog
        }
        if (9..=11).contains(&hour) {
            wait_factor *= 1.15; // morning peak
        }
        if is_outage {
            wait_factor *= if queue == BILLING { 4.0 } else { 2.0 };
        }
        let offered_wait = rng.lognormal(CHANNEL_WAIT_MEDIAN[channel] * wait_factor, 1.15);
        let patience = rng.exponential(CHANNEL_PATIENCE[channel]);
        let abandoned = patience < offered_wait;
        let wait_s = if abandoned { patience } else { offered_wait }.round() as u64;

        // --- fixed leading columns ------------------------------------------
        line.clear();
        push_uint(&mut line, contact_id);
        line.push(b',');
        line.extend_from_slice(date_prefix[day].as_bytes());
        push_2digits(&mut line, hour);
        line.push(b':');
        push_2digits(&mut line, secs % 3600 / 60);
        line.push(b':');
        push_2digits(&mut line, secs % 60);
        line.extend_from_slice(b"Z,");
        for field in [CHANNELS[channel], QUEUES[queue], SITES[site], TEAMS[team_idx].0] {
            line.extend_from_slice(field.as_bytes());
            line.push(b',');
        }

        if abandoned {
            // No agent, no handling times, no FCR verdict; many call back.
            line.extend_from_slice(b",");
            push_uint(&mut line, wait_s);
            line.extend_from_slice(b",,,,true,false,false,,");
            push_bool(&mut line, rng.bernoulli(0.35));
            line.push(b',');
            push_cents(&mut line, ABANDONED_COST_CENTS);
            line.push(b',');
            line.extend_from_slice(COMPLEXITY[complexity].as_bytes());
            line.push(b',');
        } else {
            // --- handling ---------------------------------------------------
            let agent_idx = rng.weighted(&team.loads);
            let skill = team.agents[agent_idx].skill;
            let high = complexity == HIGH;
            let cx = complexity as f64; // 0 low, 1 medium, 2 high

            let transferred = rng.bernoulli(logistic(
                -2.6 + 0.55 * cx + if queue == TECH { 0.3 } else { 0.0 } - 0.35 * skill,
            ));
            let escalated = rng.bernoulli(logistic(
                -3.0 + 0.65 * cx + if queue == RETENTION { 0.5 } else { 0.0 } - 0.25 * skill,
            ));

            let channel_talk = [1.0, 1.35, 0.6][channel];
            let talk = rng.lognormal(
                QUEUE_TALK_MEDIAN[queue]
                    * COMPLEXITY_TALK[complexity]
                    * channel_talk
                    * (-0.12 * skill).exp()
                    * if transferred { 1.35 } else { 1.0 },
                0.5,
            );
            let talk_s = talk.round().max(15.0) as u64;
            let hold_p = match channel {
                0 => 0.22 + 0.15 * cx + if queue == TECH { 0.1 } else { 0.0 },
                1 => 0.08,
                _ => 0.0,
            };
            let hold_s = if rng.bernoulli(hold_p) {
                rng.lognormal(40.0 * (1.0 + 0.4 * cx), 0.8).round().max(5.0) as u64
            } else {
                0
            };
            let acw_s = (45.0 + 12.0 * cx - 5.0 * skill + 14.0 * rng.normal())
                .round()
                .clamp(20.0, 150.0) as u64;

            let resolved = rng.bernoulli(logistic(
                1.35 + [0.45, 0.0, -0.8][complexity] + 0.4 * skill
                    - if transferred { 1.1 } else { 0.0 }
                    - if escalated { 0.8 } else { 0.0 }
                    - 0.15 * (1.0 + hold_s as f64 / 60.0).ln(),
            ));
            let repeat = rng.bernoulli(if resolved { 0.07 } else { 0.45 });

            let handled_min = (talk_s + hold_s + acw_s) as f64 / 60.0;
            let channel_rate = [1.0, 0.6, 0.8][channel];
            let cents = (handled_min * SITE_RATE_PER_MIN[site] * channel_rate * 100.0).round();

            line.push(b'A');
            let agent_no = (team.first_agent + agent_idx + 1) as u32;
            line.push(b'0' + (agent_no / 100) as u8);
            push_2digits(&mut line, agent_no % 100);
            line.push(b',');
            for v in [wait_s, talk_s, hold_s, acw_s] {
                push_uint(&mut line, v);
                line.push(b',');
            }
            for b in [false, transferred, escalated, resolved, repeat] {
                push_bool(&mut line, b);
                line.push(b',');
            }
            push_cents(&mut line, cents as u64);
            line.push(b',');
            line.extend_from_slice(COMPLEXITY[complexity].as_bytes());
            line.push(b',');
            let outcome = Outcome { queue, transferred, escalated, resolved };
            write_note(&mut rng, &outcome, &mut note);
            push_text(&mut line, &note);

            // --- survey: CX as a function of the operations above ------------
            if survey_rng.bernoulli(SURVEY_RATE) {
                // Occasionally the survey tool holds a response for a contact
                // that is not in this export (purged, other system, typo).
                if survey_id + 1 == next_orphan {
                    next_orphan += survey_rng.range(ORPHAN_GAP.0, ORPHAN_GAP.1);
                    survey_id += 1;
                    orphans += 1;
                    survey_line.clear();
                    push_uint(&mut survey_line, survey_id);
                    survey_line.push(b',');
                    push_uint(&mut survey_line, args.calls as u64 + 1 + survey_rng.below(100_000));
                    for (lo, hi) in [(1, 5), (0, 10), (1, 7)] {
                        survey_line.push(b',');
                        let x = survey_rng.range(lo, hi) as f64;
                        push_score(&mut survey_line, &mut survey_rng, x, lo as f64, hi as f64);
                    }
                    survey_line.push(b'\n');
                    surveys_out.write_all(&survey_line)?;
                }

                let wait_pen = 0.55 * (1.0 + wait_s as f64 / 60.0).ln();
                let hold_pen = 0.30 * (1.0 + hold_s as f64 / 60.0).ln();
                let handoff_pen =
                    if transferred { 0.45 } else { 0.0 } + if escalated { 0.25 } else { 0.0 };
                let unresolved = if resolved { 0.0 } else { 1.0 };
                let complex_pen = if high { 0.15 } else { 0.0 };
                // The respondent's mood colours all three answers alike.
                let mood = 0.6 * survey_rng.normal();
                let satisfaction = 0.3 * skill
                    - wait_pen
                    - hold_pen
                    - handoff_pen
                    - 0.9 * unresolved
                    - complex_pen
                    + mood;
                let effort = 0.1 * skill
                    - 1.4 * wait_pen
                    - 1.2 * hold_pen
                    - 1.5 * handoff_pen
                    - 0.6 * unresolved
                    - 2.0 * complex_pen
                    + 0.5 * mood;

                survey_id += 1;
                survey_line.clear();
                push_uint(&mut survey_line, survey_id);
                survey_line.push(b',');
                push_uint(&mut survey_line, contact_id);
                survey_line.push(b',');
                let csat = 4.82 + 0.9 * satisfaction + 0.45 * survey_rng.normal();
                push_score(&mut survey_line, &mut survey_rng, csat, 1.0, 5.0);
                survey_line.push(b',');
                let nps = 9.25 + 1.6 * satisfaction + 1.0 * survey_rng.normal();
                push_score(&mut survey_line, &mut survey_rng, nps, 0.0, 10.0);
                survey_line.push(b',');
                let ces = 5.85 + 1.3 * effort + 0.7 * survey_rng.normal();
                push_score(&mut survey_line, &mut survey_rng, ces, 1.0, 7.0);
                survey_line.push(b'\n');
                surveys_out.write_all(&survey_line)?;
            }
        }

        for _ in 0..args.extra {
            line.push(b',');
            push_filler(&mut line, &mut text_rng);
        }
        line.push(b'\n');
        calls_out.write_all(&line)?;
    }

    calls_out.flush()?;
    surveys_out.flush()?;
    Ok((starts.len(), survey_id, orphans))
}
