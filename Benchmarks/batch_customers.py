#!/usr/bin/env python3
"""Customer CSV for Benchmarks/batch-bench.sh: the legacy CRM export as a CSV file, one customer per row.

The values follow crmhub-bench-mapping's JSON generator (mixed-case names, padded e-mails, GB phone numbers,
dates with offsets, padded tiers); nested fields are dotted column names (address.city, marketing.email), which
the batch reader turns into nested objects. No company column (in CSV every column is present, so the mapping's
`company exists` test would make everyone an organisation) and no tags (a list). Deterministic (seed 42).

Usage:  batch_customers.py COUNT OUT.csv
        batch_customers.py --jsonl COUNT OUT.jsonl   the same customers as JSON lines, with a company for one in five
                                                     and tags (Benchmarks/mapped-route-bench.sh)
"""
import json
import random
import sys

FIRST = ["jane", "JOHN", "mary-ann", "sean", "Ali", "chen", "olivia", "noah", "EMMA", "lucas", "sofia", "liam"]
LAST = ["doe", "O'BRIEN", "mcdonald", "smith", "van der berg", "Khan", "müller", "garcía", "Nguyen", "brown"]
CITIES = ["london", "MANCHESTER", "leeds", "bristol", "glasgow", "edinburgh", "cardiff"]
STATUSES = ["A", "A", "A", "I", "P"]
TIERS = ["gold", "silver", " bronze", "platinum"]
COMPANIES = ["Acme Ltd", " Globex plc", "Initech", "Umbrella Corp "]
TAGS = ["VIP", "newsletter", " b2b", "Churn-Risk", "trial"]
HEADER = ("id,first_name,last_name,email,phone,status,tier,created_at,address.street,address.city,address.zip,"
          "address.country,marketing.email,marketing.sms,lifetime_value,locale,source")


def jsonl(count: int, path: str) -> None:
    rng = random.Random(42)
    r = rng.randrange
    with open(path, "w", encoding="utf-8") as out:
        lines = []
        for i in range(count):
            f, l = FIRST[r(len(FIRST))], LAST[r(len(LAST))]
            local = "".join(c if c.isascii() else "u" for c in (f + "." + l) if c not in " '")
            record = {"id": 100000 + i, "first_name": f, "last_name": l}
            if r(5) == 0:
                record["company"] = COMPANIES[r(len(COMPANIES))]
            record.update({
                "email": f" {local}{i}@Example.COM",
                "phone": f"020 7946 {r(10000):04d}" if r(2) == 0 else f"+44 7700 {r(1000000):06d}",
                "status": STATUSES[r(len(STATUSES))], "tier": TIERS[r(len(TIERS))],
                "created_at": f"20{15 + r(10):02d}-{1 + r(12):02d}-{1 + r(28):02d}T{r(24):02d}:{r(60):02d}:00+01:00",
                "address": {"street": f"{1 + r(200)} High Street ", "city": CITIES[r(len(CITIES))],
                            "zip": f"ec1a {r(10)}bb", "country": "gb"},
                "tags": [TAGS[r(len(TAGS))] for _ in range(1 + r(3))],
                "marketing": {"email": r(2) == 0, "sms": r(3) == 0},
                "lifetime_value": f"{r(100000)}.{r(10)}", "locale": "en_GB", "source": "legacy",
            })
            lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            if len(lines) >= 10000:
                out.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            out.write("\n".join(lines) + "\n")


def main() -> None:
    if sys.argv[1] == "--jsonl":
        jsonl(int(sys.argv[2]), sys.argv[3])
        return
    count, path = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(42)
    r = rng.randrange
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\r\n")
        rows = []
        for i in range(count):
            f, l = FIRST[r(len(FIRST))], LAST[r(len(LAST))]
            local = "".join(c if c.isascii() else "u" for c in (f + "." + l) if c not in " '")
            phone = f"020 7946 {r(10000):04d}" if r(2) == 0 else f"+44 7700 {r(1000000):06d}"
            created = f"20{15 + r(10):02d}-{1 + r(12):02d}-{1 + r(28):02d}T{r(24):02d}:{r(60):02d}:00+01:00"
            rows.append(",".join([
                str(100000 + i), f, l, f" {local}{i}@Example.COM", phone,
                STATUSES[r(len(STATUSES))], TIERS[r(len(TIERS))], created,
                f"{1 + r(200)} High Street ", CITIES[r(len(CITIES))], f"ec1a {r(10)}bb", "gb",
                "true" if r(2) == 0 else "false", "true" if r(3) == 0 else "false",
                f"{r(100000)}.{r(10)}", "en_GB", "legacy",
            ]))
            if len(rows) >= 10000:
                out.write("\r\n".join(rows) + "\r\n")
                rows.clear()
        if rows:
            out.write("\r\n".join(rows) + "\r\n")


if __name__ == "__main__":
    main()
