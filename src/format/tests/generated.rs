//! Random `.kpi` files: every statement and expression form, odd spacing, line breaks,
//! parentheses and comments in the places a person might put them.

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*: deterministic, so a failing seed can be replayed
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.below(options.len())]
    }
    /// Space between tokens; now and then a line break, rarely with a comment.
    fn gap(&mut self) -> String {
        match self.below(20) {
            0 => "\n      ".into(),
            1 if self.chance(30) => "  # inside\n   ".into(),
            2 => "   ".into(),
            _ => " ".into(),
        }
    }
}

const ATOMS: &[&str] = &[
    "a",
    "aht",
    "calls.wait_s",
    "surveys.csat",
    "1",
    "1_000",
    "6.50",
    "1e3",
    "2.5E-2",
    "75%",
    "20s",
    "6m",
    "1.5h",
    "250ms",
    "2026-03-14",
    "2026-03-15T09:30Z",
    r#""x""#,
    r#""q\"uote \u{e9}\t""#,
    "true",
    "false",
    "null",
    "\"\"\"\n        one\n          two\n    \"\"\"",
];
const OPS: &[&str] = &["+", "-", "*", "/", "==", "!=", "<>", "<", "<=", ">", ">=", "and", "or"];

fn expr(r: &mut Rng, depth: usize) -> String {
    if depth == 0 || r.chance(25) {
        return r.pick(ATOMS).to_string();
    }
    let sub = |r: &mut Rng| {
        let e = expr(r, depth - 1);
        if r.chance(30) { format!("({e})") } else { e }
    };
    match r.below(8) {
        0 | 1 => {
            let (lhs, op, rhs) = (sub(r), r.pick(OPS), sub(r));
            let (g1, g2) = (r.gap(), r.gap());
            format!("{lhs}{g1}{op}{g2}{rhs}")
        }
        2 => format!("-{}", sub(r)),
        3 => format!("not {}", sub(r)),
        4 => format!("{} is {}null", sub(r), r.pick(&["", "not "])),
        5 => format!("{} {}in ({}, {})", sub(r), r.pick(&["", "not "]), sub(r), sub(r)),
        6 => {
            let operand = if r.chance(50) { format!(" {}", sub(r)) } else { String::new() };
            let (w, t, e) = (sub(r), sub(r), sub(r));
            format!("case{operand} when {w} then {t} else {e} end")
        }
        _ => {
            let func = r.pick(&["avg", "count", "rate", "min", "percentile", "corr"]);
            let mut args = sub(r);
            if r.chance(50) {
                args = format!("{args},{}{}", r.gap(), sub(r));
            }
            if r.chance(40) {
                args = format!("{args} where {}", sub(r));
            }
            let over = if r.chance(20) { " over agent" } else { "" };
            format!("{func}({args}){over}")
        }
    }
}

fn kpi(r: &mut Rng, n: usize) -> String {
    let label = if r.chance(30) { r#" "A label""# } else { "" };
    let mut clauses = vec![
        format!("unit {}", r.pick(&["seconds", r#""USD""#])),
        format!("target {} {}", r.pick(&[">=", "<="]), expr(r, 1)),
        format!("warn {} {}", r.pick(&[">=", "<="]), expr(r, 1)),
        format!("min {}", r.pick(&["30", "(5)"])),
        "tags northstar,lagging".to_string(),
    ];
    let mut out = format!("kpi k{n}{label} = {}", expr(r, 4));
    while !clauses.is_empty() && r.chance(60) {
        let clause = clauses.remove(r.below(clauses.len()));
        let before = r.pick(&[" ", "  ", "\n    ", "\n    # about the clause\n    "]);
        let after = if r.chance(10) { "  # trailing\n   " } else { "" };
        out = format!("{out}{before}{clause}{after}");
    }
    out
}

fn statement(r: &mut Rng, n: usize) -> String {
    match r.below(9) {
        0..=2 => kpi(r, n),
        3 => format!("dim d{n} ={}{}", r.gap(), expr(r, 3)),
        4 => format!("param p{n} = {}", r.pick(&["20s", "-5", "4.2", "75%"])),
        5 => {
            let name = if r.chance(50) { format!("b{n} = ") } else { String::new() };
            let weights = if r.chance(50) { " weights 60%,40%" } else { "" };
            format!("blend {name}aht with csat{weights} guard {}", expr(r, 2))
        }
        6 => format!("view v{n} = aht,csat by site , week where {}", expr(r, 2)),
        7 => {
            let entries = ["id: int", "channel: text", "id -> calls.contact_id", "# a column"];
            let mut block = String::new();
            for _ in 0..r.below(4) {
                block = format!("{block}{}{}", r.pick(&["\n  ", " ", "\n\n  "]), r.pick(&entries));
            }
            let block = if block.is_empty() { String::new() } else { format!(" {{{block}\n}}") };
            format!("dataset s{n} = csv(\"s.csv\"){block}")
        }
        _ => format!(
            "test \"t{n}\" {{ calls = csv \"\"\"\n  a,b\n  1,2\n  \"\"\"\n  expect aht{} == {} within 1 }}",
            r.pick(&["", ".status", "[site == \"x\"]"]),
            expr(r, 2),
        ),
    }
}

pub fn file(seed: u64) -> String {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut out = String::new();
    for n in 0..1 + r.below(6) {
        let before = r.pick(&["", "\n", "\n\n\n", "# a comment\n", "\n# after a blank\n"]);
        let after = if r.chance(15) { "   # trailing" } else { "" };
        out = format!("{out}{before}{}{after}\n", statement(&mut r, n));
    }
    out
}
