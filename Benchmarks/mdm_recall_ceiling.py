#!/usr/bin/env python3
"""How many true pairs of a labelled customer CSV any resolver could link at all, judged by exact agreement.

For each person (the `person_id` column), records are joined when at least N of the compared fields are equal after
lower-casing and dropping everything but letters and digits (both present); a true pair is reachable when its two
records end in one group (directly or through other records of the person). The share of reachable pairs bounds
the pairwise recall of a resolver that links only on N or more agreeing fields, and 2R / (1 + R) its F1 at
perfect precision. Typos make some pairs reachable by fuzzy comparison that this count misses, so the bound is
indicative, not strict: it shows how much of a generator's truth rests on a single shared value.

Usage: Benchmarks/mdm_recall_ceiling.py FILE.csv [--fields given_name,family_name,...] [--max-agreeing 3]
"""

import argparse
import collections
import csv
import itertools


def normalised(value: str) -> str:
    return "".join(ch for ch in value.lower() if ch.isalnum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--fields", default="given_name,family_name,street,postcode,date_of_birth,city")
    parser.add_argument("--max-agreeing", type=int, default=3)
    args = parser.parse_args()
    fields = args.fields.split(",")
    people: dict[str, list[list[str]]] = collections.defaultdict(list)
    with open(args.file, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            people[row["person_id"]].append([normalised(row.get(k) or "") for k in fields])

    def agreeing(a: list[str], b: list[str]) -> int:
        return sum(1 for x, y in zip(a, b) if x and x == y)

    total = sum(len(r) * (len(r) - 1) // 2 for r in people.values())
    print(f"{args.file}: {sum(len(r) for r in people.values())} records, {total} true pairs, fields {','.join(fields)}")
    for need in range(1, args.max_agreeing + 1):
        reachable = 0
        for records in people.values():
            n = len(records)
            if n < 2:
                continue
            parent = list(range(n))

            def find(x: int) -> int:
                while parent[x] != x:
                    parent[x] = parent[parent[x]]
                    x = parent[x]
                return x

            for i, j in itertools.combinations(range(n), 2):
                if agreeing(records[i], records[j]) >= need:
                    parent[find(i)] = find(j)
            groups = collections.Counter(find(i) for i in range(n))
            reachable += sum(s * (s - 1) // 2 for s in groups.values())
        recall = reachable / total if total else 1.0
        print(
            f"at least {need} equal field(s): {reachable} reachable pairs, recall ceiling {recall:.4f}, "
            f"F1 ceiling at precision 1 {2 * recall / (1 + recall):.4f}"
        )


if __name__ == "__main__":
    main()
