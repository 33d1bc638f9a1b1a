#!/usr/bin/env python3
"""Writes the sample data of the KPI library (library/data/*.csv).

Small, seeded and deterministic: running it again rewrites the same files. Standard
library only. The numbers are invented but shaped like a real two-site contact center
in March 2026 (an in-house site in Lisbon, an outsourced one in Manila).

    python3 library/data/generate.py
"""

import csv
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
rng = random.Random(15)
UTC = timezone.utc


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def write(name, header, rows):
    with open(HERE / name, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])


def yn(b):
    return None if b is None else ("true" if b else "false")


# ---- agents -------------------------------------------------------------------------
AGENTS = []
NAMES = ["Ana", "Bruno", "Carla", "Duarte", "Eva", "Filipe",
         "Gem", "Hazel", "Isko", "Joy", "Kiko", "Lea"]
for i, name in enumerate(NAMES):
    site = "lisbon" if i < 6 else "manila"
    team = ("lis-a" if i < 3 else "lis-b") if i < 6 else ("man-a" if i < 9 else "man-b")
    agent_id = ("L%02d" % (i + 1)) if i < 6 else ("M%02d" % (i - 5))
    hired = datetime(2022, 1, 10) + timedelta(days=rng.randint(0, 1400))
    AGENTS.append((agent_id, name, site, team, hired.strftime("%Y-%m-%d")))
write("agents.csv", ["agent_id", "agent_name", "site", "team", "hired_on"], AGENTS)

# ---- contacts -----------------------------------------------------------------------
# Loaded cost per handled minute by site, and a telephony cost per contact.
RATE = {"lisbon": 0.55, "manila": 0.24}
QUEUES = ["billing"] * 7 + ["tech_support"] * 6 + ["sales"] * 3
contacts = []
handled_ids = []
# 20 weekdays from 2026-03-02, 12 contacts a day, ids in time order.
starts = []
day = datetime(2026, 3, 2, tzinfo=UTC)
while len(starts) < 240:
    if day.weekday() < 5:
        times = sorted(rng.randint(0, 10 * 3600) for _ in range(12))
        starts.extend(day + timedelta(hours=8, seconds=t) for t in times)
    day += timedelta(days=1)
for cid, started in enumerate(starts, start=1001):
    channel = "chat" if rng.random() < 0.25 else "voice"
    queue = rng.choice(QUEUES)
    site = "lisbon" if rng.random() < 0.5 else "manila"
    customer = "C%04d" % rng.randint(1, 60)
    # Waits: mostly short, a tail of long ones (a billing spike mid-month).
    wait = int(rng.expovariate(1 / 16))
    if queue == "billing" and 16 <= started.day <= 18:
        wait += rng.randint(40, 140)
    abandoned = rng.random() < min(0.01 + wait / 1500, 0.5)
    if cid in (1007, 1052):          # two short abandons: hung up within seconds
        abandoned, wait = True, 3
    if abandoned:
        contacts.append([cid, ts(started), channel, queue, site, None, customer, wait,
                         None, None, None, "true", None, None, None, None, None, None,
                         None, 0.30, None])
        continue
    agents = [a for a in AGENTS if a[2] == site]
    agent = rng.choice(agents)[0]
    complexity = rng.choices(["low", "medium", "high"], [5, 4, 2])[0]
    base = {"low": 200, "medium": 300, "high": 450}[complexity]
    if site == "manila":
        base += 25
    talk = int(base * rng.uniform(0.6, 1.5))
    hold = 0 if rng.random() < 0.6 else rng.randint(20, 150)
    acw = rng.randint(20, 95)
    if cid == 1033:
        hold = None                   # the phone system lost this contact's hold time
    transferred = rng.random() < (0.06 if complexity == "low" else 0.14)
    escalated = rng.random() < (0.03 if complexity != "high" else 0.3)
    resolved = (not transferred and not escalated
                and rng.random() < {"low": 0.92, "medium": 0.8, "high": 0.6}[complexity])
    repeat = (not resolved and rng.random() < 0.7) or (resolved and rng.random() < 0.05)
    eligible = queue == "sales" or (queue == "billing" and rng.random() < 0.2)
    converted = eligible and rng.random() < 0.38
    revenue = round(rng.uniform(40, 220), 2) if converted else 0
    minutes = (talk + (hold or 0) + acw) / 60
    cost = round(minutes * RATE[site] + 0.30, 2)
    contacts.append([cid, ts(started), channel, queue, site, agent, customer, wait, talk,
                     hold, acw, "false", yn(transferred), yn(escalated), yn(resolved),
                     yn(repeat), yn(eligible), yn(converted), revenue, cost, complexity])
    handled_ids.append((cid, resolved, escalated, wait))
write("contacts.csv",
      ["contact_id", "started_at", "channel", "queue", "site", "agent_id", "customer_id",
       "wait_s", "talk_s", "hold_s", "acw_s", "abandoned", "transferred", "escalated",
       "resolved_first_contact", "repeat_7d", "sales_eligible", "converted", "revenue",
       "cost", "complexity"],
      contacts)

# ---- surveys (post-contact CSAT, NPS, CES) --------------------------------------------
surveyed = sorted(rng.sample(handled_ids, 62))
escalated = [h for h in handled_ids if h[2] and h not in surveyed]
surveyed = sorted(set(surveyed) | set(escalated[:2]))
surveys = []
for sid, (cid, resolved, esc, wait) in enumerate(surveyed, start=1):
    mood = (0.9 if resolved else -0.9) - (0.6 if esc else 0) - (0.4 if wait > 60 else 0)
    csat = max(1, min(5, round(4.1 + mood + rng.gauss(0, 0.6))))
    nps = max(0, min(10, round(7.6 + 1.6 * mood + rng.gauss(0, 1.2))))
    ces = max(1, min(7, round(5.2 + 1.1 * mood + rng.gauss(0, 0.8))))
    if sid % 9 == 0:
        nps = None                    # skipped the question
    surveys.append([sid, cid, csat, nps, ces])
write("surveys.csv", ["survey_id", "contact_id", "csat", "nps", "ces"], surveys)

# ---- tickets (email and web-form cases; exported on 2026-04-06) ----------------------
tickets = []
export = datetime(2026, 4, 6, tzinfo=UTC)
for tid in range(5001, 5041):
    opened = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 32 * 86400))
    queue = rng.choice(["billing", "billing", "tech_support", "complaints"])
    priority = rng.choices(["low", "normal", "high"], [3, 6, 1])[0]
    days = rng.expovariate(1 / 4) + 0.1
    if queue == "complaints":
        days *= 2.5
    closed = opened + timedelta(days=days)
    if closed > export or rng.random() < 0.12:   # still open when exported
        closed = None
    status = "closed" if closed else rng.choice(["open", "pending"])
    tickets.append([tid, queue, priority, ts(opened), ts(closed) if closed else None, status])
write("tickets.csv", ["ticket_id", "queue", "priority", "opened_at", "closed_at", "status"],
      tickets)

# ---- QA: one review per sampled contact, and a blind second review of some -----------
REVIEWERS = ["qa_ines", "qa_marco", "qa_rhea"]
reviewed = sorted(rng.sample(handled_ids, 30))
qa = []
for rid, (cid, resolved, esc, wait) in enumerate(reviewed, start=1):
    score = max(40, min(100, round(84 + (6 if resolved else -8) + rng.gauss(0, 6))))
    qa.append([rid, cid, rng.choice(REVIEWERS), "2026-03-%02d" % rng.randint(20, 30), score])
write("qa_reviews.csv", ["review_id", "contact_id", "reviewer", "reviewed_on", "score"], qa)
calibration = []
for n, row in enumerate(rng.sample(qa, 10), start=1):
    other = rng.choice([r for r in REVIEWERS if r != row[2]])
    score = max(40, min(100, row[4] + round(rng.gauss(0, 5))))
    calibration.append([n, row[1], other, score])
calibration.sort(key=lambda r: r[1])
write("qa_calibration.csv", ["calibration_id", "contact_id", "reviewer", "score"], calibration)

# ---- agent states on 2026-03-16, split at schedule boundaries ------------------------
SCHEDULE = [("open", 9, 0, 11, 0), ("break", 11, 0, 11, 15), ("open", 11, 15, 13, 0),
            ("lunch", 13, 0, 13, 30), ("open", 13, 30, 15, 0), ("training", 15, 0, 15, 30),
            ("open", 15, 30, 17, 30)]
states = []
base = datetime(2026, 3, 16, tzinfo=UTC)
for agent in ["L01", "L04", "M02", "M05"]:
    for kind, h1, m1, h2, m2 in SCHEDULE:
        start = base + timedelta(hours=h1, minutes=m1)
        end = base + timedelta(hours=h2, minutes=m2)
        if kind != "open":
            actual = kind
            if agent == "M05" and kind == "training":
                actual = "handling"       # pulled onto the phones during a queue spike
            states.append([agent, ts(start), ts(end), actual, kind])
            continue
        span = (end - start).total_seconds()
        t = start
        late = None
        if agent == "L04" and h1 == 13:
            late = ("lunch", 12)          # back from lunch 12 minutes late
        if agent == "L01" and h1 == 9:
            late = ("offline", 15)        # logged in 15 minutes late
        if agent == "M02" and h1 == 11:
            late = ("break", 10)          # a 25-minute break
        if late:
            state, minutes = late
            states.append([agent, ts(t), ts(t + timedelta(minutes=minutes)), state, "open"])
            t += timedelta(minutes=minutes)
            span -= minutes * 60
        busy = {"L01": 0.78, "L04": 0.70, "M02": 0.90, "M05": 0.88}[agent]
        busy = min(0.97, busy + rng.uniform(-0.06, 0.06))
        handling = int(span * busy * 0.8)
        acw = int(span * busy * 0.2)
        for state, secs in (("handling", handling), ("acw", acw),
                            ("available", span - handling - acw)):
            nxt = t + timedelta(seconds=secs)
            states.append([agent, ts(t), ts(nxt), state, "open"])
            t = nxt
    # Overtime after the shift: on the phones, nothing scheduled.
    if agent == "M02":
        t = base + timedelta(hours=17, minutes=30)
        states.append([agent, ts(t), ts(t + timedelta(minutes=20)), "handling", None])
write("agent_states.csv", ["agent_id", "started_at", "ended_at", "state", "scheduled"], states)

# ---- agent survey (quarterly engagement pulse) ----------------------------------------
pulse = []
for n, agent in enumerate(AGENTS, start=1):
    base_score = 4.3 if agent[2] == "lisbon" else 3.5
    esat = max(1, min(5, round(base_score + rng.gauss(0, 0.8))))
    enps = max(0, min(10, round(7.2 + 1.5 * (esat - 3.5) + rng.gauss(0, 1.5))))
    pulse.append([n, agent[0], "2026-03-25", esat, enps])
write("agent_survey.csv", ["response_id", "agent_id", "surveyed_on", "esat", "enps"], pulse)

# ---- self-service sessions (IVR and chat bot) -------------------------------------------
sessions = []
for sid in range(1, 41):
    started = datetime(2026, 3, 2, 7, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 26 * 86400))
    channel = rng.choice(["ivr", "ivr", "bot"])
    intent = rng.choice(["balance", "payment", "outage", "password_reset", "other"])
    p_contained = {"balance": 0.85, "payment": 0.6, "outage": 0.5,
                   "password_reset": 0.7, "other": 0.15}[intent]
    r = rng.random()
    outcome = "contained" if r < p_contained else ("abandoned" if r < p_contained + 0.1
                                                   else "transferred")
    recontact = outcome != "transferred" and rng.random() < (0.15 if outcome == "contained"
                                                             else 0.5)
    sessions.append([sid, ts(started), channel, intent, outcome, yn(recontact)])
write("self_service.csv",
      ["session_id", "started_at", "channel", "intent", "outcome", "recontact_24h"], sessions)
