#!/usr/bin/env python3
"""An independent labelled customer generator for evaluating crmhub identity resolution.

Written separately from the engine and from Sources/CRMMasterData/Evaluation/SyntheticCustomers.swift: names,
streets, cities and postcodes come from Faker (PyPI) in seven locales with Faker's own name frequencies; the
corruption model is this file's own:

  people:   households (a second person sharing the address, landline and usually the family name, different
            given name and birth date; some spouses keep their own family name; a few twins share the birth date),
            same-name strangers (a new person with an existing person's given and family name), movers.
  records:  1-6 per person (geometric), each from a source system with its own habits.
  errors:   keyboard typos (substitution by a neighbouring key, deletion, insertion, transposition), nicknames and
            short forms from this file's own table, initials, swapped given/family names, married names,
            double-barrelled names, day/month swaps and US month-first dates, digit typos in dates, phones and
            postcodes, e-mail variants (case, dots, +tags, another provider, a new address), phone formats
            (+CC, 00CC, trunk 0, spaces, dashes, brackets), street abbreviations, missing fields.

Modes:  full (default)  all fields
        nad             names, address and date of birth only (no e-mail, no phone), like public
                        record-linkage benchmarks.

Usage:  faker_customers.py COUNT SEED OUT.csv [--mode full|nad]
Output: id,person_id,system,given_name,family_name,email,phone,street,city,postcode,country,date_of_birth
"""
import argparse
import csv
import os
import random
import sys

# The same seed must give the same file in every process: Faker (or its providers) iterates over sets of strings,
# whose order follows Python's per-process hash seed. Run again with a fixed one.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

from faker import Faker

LOCALES = [("en_GB", "GB", "44"), ("en_US", "US", "1"), ("de_DE", "DE", "49"), ("fr_FR", "FR", "33"),
           ("es_ES", "ES", "34"), ("it_IT", "IT", "39"), ("nl_NL", "NL", "31")]
LOCALE_WEIGHTS = [0.25, 0.25, 0.15, 0.12, 0.09, 0.08, 0.06]

# This generator's own short-form table (deliberately not the engine's).
SHORT = {
    "william": ["bill", "will", "billy"], "robert": ["bob", "rob", "bobby", "robbie"], "richard": ["rich", "rick", "dick"],
    "james": ["jim", "jimmy", "jamie"], "john": ["johnny", "jack"], "michael": ["mike", "mick", "mikey"],
    "thomas": ["tom", "tommy"], "christopher": ["chris"], "daniel": ["dan", "danny"], "matthew": ["matt"],
    "andrew": ["andy", "drew"], "anthony": ["tony"], "joseph": ["joe", "joey"], "charles": ["charlie", "chuck"],
    "edward": ["ed", "eddie", "ted"], "alexander": ["alex", "sasha"], "benjamin": ["ben"], "samuel": ["sam"],
    "nicholas": ["nick", "nicky"], "steven": ["steve"], "stephen": ["steve"], "david": ["dave"], "peter": ["pete"],
    "patrick": ["pat"], "timothy": ["tim"], "gregory": ["greg"], "jonathan": ["jon"], "kenneth": ["ken", "kenny"],
    "ronald": ["ron", "ronnie"], "donald": ["don"], "raymond": ["ray"], "lawrence": ["larry"], "gerald": ["gerry"],
    "elizabeth": ["liz", "beth", "betty", "lizzie"], "margaret": ["maggie", "peggy", "meg"], "katherine": ["kate", "kathy"],
    "catherine": ["cathy", "kate"], "jennifer": ["jen", "jenny"], "rebecca": ["becky"], "susan": ["sue", "susie"],
    "victoria": ["vicky", "tori"], "patricia": ["pat", "patty", "trish"], "deborah": ["debbie", "deb"],
    "barbara": ["barb"], "jessica": ["jess"], "kimberly": ["kim"], "samantha": ["sam"], "christine": ["chris"],
    "abigail": ["abby"], "alexandra": ["alex"], "dorothy": ["dot"], "pamela": ["pam"], "cynthia": ["cindy"],
    "johannes": ["hans"], "friedrich": ["fritz"], "wolfgang": ["wolf"], "katharina": ["kathi"], "josef": ["sepp"],
    "francisco": ["paco", "curro"], "jose": ["pepe"], "manuel": ["manolo"], "dolores": ["lola"], "guillermo": ["memo"],
    "giuseppe": ["beppe", "pino"], "giovanni": ["gianni"], "francesca": ["franca"], "alessandro": ["sandro"],
    "nicolas": ["nico"], "frederic": ["fred"], "jean-baptiste": ["jb"], "catharina": ["karin", "ina"],
}
PROVIDERS = {"GB": ["gmail.com", "hotmail.co.uk", "btinternet.com", "yahoo.co.uk"],
             "US": ["gmail.com", "yahoo.com", "aol.com", "outlook.com"],
             "DE": ["gmx.de", "web.de", "t-online.de", "gmail.com"], "FR": ["orange.fr", "free.fr", "laposte.net", "gmail.com"],
             "ES": ["gmail.com", "hotmail.es", "telefonica.net"], "IT": ["libero.it", "gmail.com", "virgilio.it"],
             "NL": ["ziggo.nl", "kpnmail.nl", "gmail.com"]}
KEYBOARD = "qwertyuiop asdfghjkl zxcvbnm"
ROWS = KEYBOARD.split(" ")
NEIGHBOURS = {}
for r, row in enumerate(ROWS):
    for i, ch in enumerate(row):
        n = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
        for rr in (r - 1, r + 1):
            if 0 <= rr < len(ROWS):
                n += [ROWS[rr][j] for j in (i - 1, i) if 0 <= j < len(ROWS[rr])]
        NEIGHBOURS[ch] = n
ABBREV = {"Street": "St", "Road": "Rd", "Avenue": "Ave", "Lane": "Ln", "Drive": "Dr", "Court": "Ct", "Place": "Pl",
          "straße": "str.", "Straße": "Str.", "Rue": "R.", "Avenue ": "Av. ", "Calle": "C/", "Via": "V.", "Boulevard": "Bd"}
SYSTEMS = ["erp", "webshop", "callcenter", "newsletter", "pos"]


def typo(rng, s):
    if len(s) < 3:
        return s
    i = rng.randrange(1, len(s))
    k = rng.random()
    c = s[i].lower()
    if k < 0.4 and c in NEIGHBOURS:
        rep = rng.choice(NEIGHBOURS[c])
        return s[:i] + (rep.upper() if s[i].isupper() else rep) + s[i + 1:]
    if k < 0.6:
        return s[:i] + s[i + 1:]
    if k < 0.8:
        return s[:i] + s[i] + s[i:]
    if i + 1 < len(s):
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    return s[:-1]


def ascii_fold(s):
    import unicodedata
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c)).replace("ß", "ss")


class Pools:
    def __init__(self, seed, size):
        self.by_locale = {}
        for k, (loc, country, dial) in enumerate(LOCALES):
            f = Faker(loc)
            f.seed_instance(seed * 31 + k)
            n = size
            self.by_locale[loc] = dict(
                country=country, dial=dial,
                male=[f.first_name_male() for _ in range(n)], female=[f.first_name_female() for _ in range(n)],
                last=[f.last_name() for _ in range(n * 2)],
                street=[f.street_name() for _ in range(n)],
                city=[f.city() for _ in range(n // 2)],
                postcode=[f.postcode() for _ in range(n * 2)])


def make_person(rng, pools, pid):
    loc = rng.choices([l[0] for l in LOCALES], LOCALE_WEIGHTS)[0]
    p = pools.by_locale[loc]
    female = rng.random() < 0.5
    given = rng.choice(p["female"] if female else p["male"])
    family = rng.choice(p["last"])
    dob = None if rng.random() < 0.05 else (rng.randint(1930, 2006), rng.randint(1, 12), rng.randint(1, 28))
    person = dict(pid=pid, loc=loc, country=p["country"], dial=p["dial"], female=female, given=given, family=family,
                  dob=dob, address=new_address(rng, p), mobile=digits(rng, 10), landline=digits(rng, 9) if rng.random() < 0.5 else None)
    person["email"] = new_email(rng, person)
    return person


def digits(rng, n):
    return str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(n - 1))


def new_address(rng, p):
    return dict(number=str(rng.randint(1, 250)), street=rng.choice(p["street"]), city=rng.choice(p["city"]),
                postcode=rng.choice(p["postcode"]))


def new_email(rng, person):
    g, f = ascii_fold(person["given"]).lower().replace(" ", ""), ascii_fold(person["family"]).lower().replace(" ", "").replace("'", "")
    pattern = rng.random()
    if pattern < 0.3:
        local = g + "." + f
    elif pattern < 0.5:
        local = g[0] + f + str(rng.randint(1, 99))
    elif pattern < 0.65:
        local = g + f + str(rng.randint(1950, 2005))
    elif pattern < 0.8:
        local = f + "_" + g
    else:
        local = g + str(rng.randint(100, 9999))
    return local + "@" + rng.choice(PROVIDERS[person["country"]])


def fmt_street(person, address, rng):
    n, s = address["number"], address["street"]
    if person["country"] in ("DE", "NL", "IT", "ES"):
        return s + " " + n
    if person["country"] == "FR":
        return n + (", " if rng.random() < 0.5 else " ") + s
    return n + " " + s


def fmt_dob(rng, person, dob, system):
    y, m, d = dob
    if person["country"] == "US" and rng.random() < 0.7:
        return f"{m:02d}/{d:02d}/{y}"
    k = rng.random()
    if k < 0.4:
        return f"{y}-{m:02d}-{d:02d}"
    if k < 0.7:
        return f"{d:02d}/{m:02d}/{y}"
    if k < 0.9:
        return f"{d:02d}.{m:02d}.{y}"
    return f"{y}{m:02d}{d:02d}"


def fmt_phone(rng, person, number):
    k = rng.random()
    if k < 0.35:
        s = "+" + person["dial"] + " " + number[:3] + " " + number[3:]
    elif k < 0.5:
        s = "00" + person["dial"] + number
    elif k < 0.8:
        s = ("0" if person["dial"] != "1" else "") + number[:4] + " " + number[4:]
    else:
        s = "(" + number[:3] + ") " + number[3:6] + "-" + number[6:]
    return s


def record(rng, person, first, mode):
    given, family = person["given"], person["family"]
    address = person["address"]
    dob = person["dob"]
    email, phone = person["email"], person["mobile"]
    if not first:
        key = ascii_fold(given).lower()
        if key in SHORT and rng.random() < 0.15:
            given = rng.choice(SHORT[key]).capitalize()
        if rng.random() < 0.07:
            given = typo(rng, given)
        if rng.random() < 0.07:
            family = typo(rng, family)
        if rng.random() < 0.04:
            given = given[0] + "."
        if person["female"] and rng.random() < 0.03:
            if "married" not in person:
                new = rng.choice(POOLS.by_locale[person["loc"]]["last"])
                person["married"] = new if rng.random() < 0.7 else person["family"] + "-" + new
            family = person["married"]
        if rng.random() < 0.025:
            given, family = family, given
        if rng.random() < 0.12:
            if "moved" not in person:
                person["moved"] = moved_address(rng, person)
            address = person["moved"]
        if dob and rng.random() < 0.03:
            y, m, d = dob
            dob = (y, d, m) if d <= 12 else (y, m, d)
        if dob and rng.random() < 0.03:
            y, m, d = dob
            k = rng.random()
            dob = (y + rng.choice([-1, 1]), m, d) if k < 0.4 else (y, m, min(28, max(1, d + rng.choice([-1, 1, 10, -10])))) if k < 0.8 else (y, (m % 12) + 1, d)
        k = rng.random()
        if k < 0.05:
            email = email.replace("@", "+" + rng.choice(["shop", "news", "spam"]) + "@")
        elif k < 0.1:
            email = email.split("@")[0] + "@" + rng.choice(PROVIDERS[person["country"]])
        elif k < 0.22:
            email = person.setdefault("email2", new_email(rng, person))
        elif k < 0.3:
            email = email.upper() if rng.random() < 0.5 else email.capitalize()
        if person["landline"] and rng.random() < 0.25:
            phone = person["landline"]
        if rng.random() < 0.03:
            i = rng.randrange(len(phone))
            phone = phone[:i] + str((int(phone[i]) + 1) % 10) + phone[i + 1:]
    street = fmt_street(person, address, rng)
    if rng.random() < 0.25:
        for a, b in ABBREV.items():
            if a in street:
                street = street.replace(a, b, 1)
                break
    if rng.random() < 0.04:
        street = typo(rng, street)
    postcode, city = address["postcode"], address["city"]
    if rng.random() < 0.02:
        postcode = typo(rng, postcode)
    case = rng.random()
    if case < 0.15:
        given, family = given.upper(), family.upper()
    elif case < 0.25:
        given, family = ascii_fold(given), ascii_fold(family)
    elif case < 0.3:
        given, family = given.lower(), family.lower()
    row = dict(system=rng.choice(SYSTEMS), given_name=given, family_name=family,
               email=email, phone=fmt_phone(rng, person, phone), street=street, city=city, postcode=postcode,
               country=person["country"], date_of_birth=fmt_dob(rng, person, dob, None) if dob else "")
    # Missing fields (each source misses some).
    for field, p in (("email", 0.25), ("phone", 0.3), ("date_of_birth", 0.12), ("street", 0.06), ("postcode", 0.06),
                     ("city", 0.05), ("given_name", 0.02), ("family_name", 0.01)):
        if rng.random() < p:
            row[field] = ""
    if mode == "nad":
        row["email"] = ""
        row["phone"] = ""
    return row


def moved_address(rng, person):
    return new_address(rng, POOLS.by_locale[person["loc"]])


POOLS = None


def main():
    global POOLS
    ap = argparse.ArgumentParser()
    ap.add_argument("count", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("out")
    ap.add_argument("--mode", choices=["full", "nad"], default="full")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    POOLS = Pools(a.seed, 1500 if a.count >= 200_000 else 600)
    people = []
    rows = 0
    pid = 0
    with open(a.out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "person_id", "system", "given_name", "family_name", "email", "phone", "street", "city",
                    "postcode", "country", "date_of_birth"])
        while rows < a.count:
            roll = rng.random()
            if roll < 0.10 and people:
                other = rng.choice(people)
                p = make_person(rng, POOLS, pid)
                p.update(loc=other["loc"], country=other["country"], dial=other["dial"], address=other["address"],
                         landline=other["landline"] or other["mobile"])
                pool = POOLS.by_locale[other["loc"]]
                p["given"] = rng.choice(pool["female"] if p["female"] else pool["male"])
                if p["given"] == other["given"]:
                    p["given"] = rng.choice(pool["female"] if p["female"] else pool["male"])
                if rng.random() < 0.8:
                    p["family"] = other["family"]
                if rng.random() < 0.05 and other["dob"]:
                    p["dob"] = other["dob"]  # twins
                if rng.random() < 0.2:
                    p["email"] = other["email"]  # a shared family mailbox
                else:
                    p["email"] = new_email(rng, p)
            elif roll < 0.14 and people:
                other = rng.choice(people)
                p = make_person(rng, POOLS, pid)
                p.update(loc=other["loc"], country=other["country"], dial=other["dial"], given=other["given"],
                         family=other["family"], female=other["female"])
                p["email"] = new_email(rng, p)
                if rng.random() < 0.3:
                    p["address"] = dict(new_address(rng, POOLS.by_locale[p["loc"]]), city=other["address"]["city"])
            else:
                p = make_person(rng, POOLS, pid)
            pid += 1
            if len(people) < 100_000:
                people.append(p)
            else:
                people[rng.randrange(len(people))] = p
            n = 1
            while n < 6 and rng.random() < 0.5:
                n += 1
            for k in range(n):
                if rows >= a.count:
                    break
                r = record(rng, p, k == 0, a.mode)
                w.writerow([f"f{rows}", p["pid"], r["system"], r["given_name"], r["family_name"], r["email"], r["phone"],
                            r["street"], r["city"], r["postcode"], r["country"], r["date_of_birth"]])
                rows += 1
    print(f"records={rows} persons={pid} seed={a.seed} mode={a.mode}", file=sys.stderr)


if __name__ == "__main__":
    main()
