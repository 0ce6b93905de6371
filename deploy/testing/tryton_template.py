#!/usr/bin/env python3
"""Builds (once) a template Tryton SQLite database for crmhub's ERP connector tests.

The template has the modules party and sale activated, a company (EUR), a fiscal year around today, a chart of
accounts with default receivable/payable accounts, a payment term, an account category and one salable product
(code WID-1). Tests copy the template file into a temporary folder and start `trytond` on it, so no test pays
for the initialisation (about a minute).

Usage: tryton_template.py CACHE_DIR
Prints the path of the template file (`CACHE_DIR/<key>/crmhub.sqlite`). The key covers the trytond version, this
script and the current month (the fiscal year must cover today). Concurrent callers wait on a lock file; a
finished template is marked by a `ready` file, so an interrupted build is redone.

Run it with the Python of the Tryton venv (`.venv-tryton/bin/python`); `trytond-admin` is taken from the same
folder. Admin login: `admin`, password `crmhub-admin` (override with CRMHUB_TRYTON_PASSWORD).
"""

import datetime
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

DATABASE_NAME = "crmhub"
PASSWORD = os.environ.get("CRMHUB_TRYTON_PASSWORD", "crmhub-admin")


def cache_key():
    import trytond

    digest = hashlib.sha256()
    with open(__file__, "rb") as handle:
        digest.update(handle.read())
    digest.update(trytond.__version__.encode())
    month = datetime.date.today().strftime("%Y%m")
    return f"trytond-{trytond.__version__}-{month}-{digest.hexdigest()[:12]}"


def write_config(folder):
    path = os.path.join(folder, "trytond.conf")
    with open(path, "w") as handle:
        handle.write(f"[database]\nuri = sqlite://\npath = {folder}\n")
    return path


def initialise(folder):
    """trytond-admin: create the database and activate sale (with its dependencies: party, company, account...)."""
    config = write_config(folder)
    open(os.path.join(folder, f"{DATABASE_NAME}.sqlite"), "w").close()
    password_file = os.path.join(folder, "admin-password")
    with open(password_file, "w") as handle:
        handle.write(PASSWORD)
    admin = os.path.join(os.path.dirname(sys.executable), "trytond-admin")
    environment = dict(os.environ, TRYTONPASSFILE=password_file)
    subprocess.run(
        [admin, "-c", config, "-d", DATABASE_NAME, "--all", "--email", "admin@example.com"],
        check=True, env=environment, stdout=subprocess.DEVNULL)
    subprocess.run(
        [admin, "-c", config, "-d", DATABASE_NAME, "-u", "party", "sale", "--activate-dependencies"],
        check=True, env=environment, stdout=subprocess.DEVNULL)
    os.remove(password_file)
    return config


def configure(config_file):
    """Company, fiscal year, chart of accounts, payment term, product: what confirming a sale needs."""
    from decimal import Decimal

    from proteus import Model, config as proteus_config
    from trytond.modules.account.tests.tools import create_chart, create_fiscalyear, get_accounts
    from trytond.modules.account_invoice.tests.tools import (
        create_payment_term, set_fiscalyear_invoice_sequences)
    from trytond.modules.company.tests.tools import create_company

    proteus_config.set_trytond(DATABASE_NAME, config_file=config_file)
    create_company(currency="EUR")
    create_chart()
    fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear())
    fiscalyear.click("create_period")

    accounts = get_accounts()
    Category = Model.get("product.category")
    category = Category(name="Goods")
    category.accounting = True
    category.account_expense = accounts["expense"]
    category.account_revenue = accounts["revenue"]
    category.save()

    Uom = Model.get("product.uom")
    unit, = Uom.find([("name", "=", "Unit")])
    Template = Model.get("product.template")
    template = Template(name="Widget", default_uom=unit, type="service", salable=True)
    template.code = "WID-1"  # the product's code is the template's prefix plus the variant's suffix (none)
    template.list_price = Decimal("49.995")
    template.account_category = category
    template.save()

    create_payment_term().save()


def _snapshot(source, destination):
    """A self-contained copy (trytond keeps SQLite in WAL mode: copying the file alone would lose the last writes)."""
    import sqlite3

    with sqlite3.connect(source) as origin, sqlite3.connect(destination) as copy:
        origin.backup(copy)
    with sqlite3.connect(destination) as copy:
        copy.execute("PRAGMA journal_mode=DELETE")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    cache = os.path.abspath(sys.argv[1])
    target = os.path.join(cache, cache_key())
    template = os.path.join(target, f"{DATABASE_NAME}.sqlite")
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(target, "ready")):
            work = tempfile.mkdtemp(prefix="tryton-template-", dir=cache)
            try:
                config = initialise(work)
                configure(config)
                shutil.rmtree(target, ignore_errors=True)
                os.makedirs(target)
                _snapshot(os.path.join(work, f"{DATABASE_NAME}.sqlite"), template)
                open(os.path.join(target, "ready"), "w").close()
            finally:
                shutil.rmtree(work, ignore_errors=True)
    print(template)
    return 0


if __name__ == "__main__":
    sys.exit(main())
