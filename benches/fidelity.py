"""Column-by-column comparison of Spindle's domains with the reference's; writes FIDELITY.md.

For every domain at one scale (default `small`, seed 42): the reference generates in
memory (pandas), Spindle writes Parquet (`spindle generate DOMAIN`), and per table we
compare row counts, column names, order and types; per column the null rate and, for
categorical columns, the total-variation distance (TVD) of value frequencies; for
numeric and temporal columns min, max, mean and the two-sample Kolmogorov-Smirnov
statistic (KS); per foreign key its fan-out: children per parent, zeros included (mean,
max, share without children, TVD of the distribution), not key values, which name each
tool's own parent rows, and its spread over time: distinct parents among the table's
first 200 and 1,000 rows by event time (flagged below 0.75 of the reference's).

Flags: TVD > 0.05; |mean difference| > 5% of the reference's mean (of its range for
instants, or when the mean is near 0); KS > 0.1; null rates apart by more than 0.02
(distribution checks only on tables of 1,000+ rows). TVD, mean and null-rate
departures are flagged only where they are also beyond sampling noise: beyond the
99.9th percentile of the same statistic between random halves of the two samples
pooled (a permutation test, moving whole parents for a column copied from its parent),
null rates beyond 3.29 standard errors; at that level about one of the report's 900
columns is flagged by chance. Known, deliberate departures are named in the row, and
follow the columns that read them.
"""
import argparse, importlib, json, math, os, subprocess, sys, tempfile

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

CLASSES = {
    "retail": "RetailDomain", "capital_markets": "CapitalMarketsDomain", "education": "EducationDomain",
    "financial": "FinancialDomain", "healthcare": "HealthcareDomain", "hr": "HrDomain",
    "insurance": "InsuranceDomain", "iot": "IoTDomain", "manufacturing": "ManufacturingDomain",
    "marketing": "MarketingDomain", "pulse": "PulseDomain", "real_estate": "RealEstateDomain",
    "supply_chain": "SupplyChainDomain", "telecom": "TelecomDomain",
}
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SCHEMAS = os.path.join(ROOT, "crates", "spindle-gen", "data", "domains")

# Departures decided on purpose (ARCHITECTURE.md, "The schema engine").
NOTES = {
    ("strategy", "trading_days"): "weekdays only (the reference draws any day)",
    ("strategy", "pareto_fk"): "the top 0.5% of draws go to a uniform parent (the reference gives them all to the last)",
    ("strategy", "round"): "`round` honoured (the reference ignores it)",
    ("strategy", "rule"): "moved to satisfy a business rule on every row (the reference's fix-up differs)",
    ("strategy", "weight_field"): "weighted by `weight_field` (the reference draws uniformly where a field is named)",
    ("strategy", "zipf_fk"): "zipf ranks follow row order; the parent at each rank is another draw in each tool",
    ("strategy", "skewed_lookup"): "read through a skewed key: its values follow the few parents each tool's draw favours",
    ("strategy", "integer"): "whole numbers, as the schema's type says (the reference writes fractions into this integer column)",
    ("strategy", "floor"): "every parent has at least one child (the reference's uniform key leaves some without: an order with no lines, its total 0)",
}

PERMUTATIONS = 2000
rng = np.random.default_rng(7)


def noise_bound(x, y, statistic):
    """The 99.9th percentile of `statistic` between random halves of x and y pooled (sizes kept)."""
    pooled = np.concatenate([x, y])
    values = []
    for _ in range(PERMUTATIONS):
        rng.shuffle(pooled)
        values.append(statistic(pooled[:len(x)], pooled[len(x):]))
    return float(np.quantile(values, 0.999))


def tvd_codes(x, y, k):
    """TVD between two samples of integer codes in 0..k."""
    return float(0.5 * np.abs(np.bincount(x, minlength=k) / len(x) - np.bincount(y, minlength=k) / len(y)).sum())


def mean_gap(x, y):
    return abs(float(np.mean(x)) - float(np.mean(y)))


def nulls_apart(na, nb, pa, pb):
    """Whether null rates pa (of na rows) and pb (of nb) differ by more than 0.02 and 3.29 standard errors."""
    p = (pa * na + pb * nb) / max(na + nb, 1)
    se = math.sqrt(max(p * (1 - p), 1e-12) * (1 / max(na, 1) + 1 / max(nb, 1)))
    return abs(pa - pb) > 0.02 and abs(pa - pb) > 3.29 * se


def ks(a, b):
    """Two-sample Kolmogorov-Smirnov statistic."""
    a, b = np.sort(a), np.sort(b)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def categories(series):
    """Values as comparable labels: numbers as numbers (2 == 2.0), booleans and their
    text alike (True == "True" == "true")."""
    s = series.dropna()
    numeric = pd.to_numeric(s, errors="coerce") if s.dtype == object else s
    if pd.api.types.is_bool_dtype(s):
        return s.map(lambda v: str(bool(v)).lower())
    if pd.api.types.is_numeric_dtype(numeric) and numeric.notna().all():
        return numeric.astype(float).map(lambda v: f"{v:g}")
    return s.astype(str).str.lower()


def cluster_noise_bound(x, gx, y, gy, statistic):
    """`noise_bound` for values shared within groups (a lookup copies its parent's value to
    all of the parent's children): whole groups are shuffled between the two sides."""
    groups = [x[gx == g] for g in np.unique(gx)] + [y[gy == g] for g in np.unique(gy)]
    first = len(np.unique(gx))
    values = []
    for _ in range(PERMUTATIONS):
        order = rng.permutation(len(groups))
        left = np.concatenate([groups[i] for i in order[:first]])
        right = np.concatenate([groups[i] for i in order[first:]])
        values.append(statistic(left, right))
    return float(np.quantile(values, 0.999))


def tvd(a, b, big, groups=None):
    """TVD of the value frequencies, and whether it departs beyond 0.05 and sampling noise
    (shuffling rows, or whole groups of rows given `groups`: each side's group labels)."""
    keep_a, keep_b = a.notna().to_numpy(), b.notna().to_numpy()
    a, b = categories(a), categories(b)
    codes, _ = pd.factorize(pd.concat([a, b], ignore_index=True))
    x, y = codes[:len(a)], codes[len(a):]
    if len(x) == 0 or len(y) == 0:
        return float("nan"), False
    k = int(codes.max()) + 1
    d = tvd_codes(x, y, k)
    if not (big and d > 0.05):
        return d, False
    statistic = lambda p, q: tvd_codes(p, q, k)
    if groups is None:
        return d, d > noise_bound(x, y, statistic)
    gx = pd.factorize(groups[0])[0][keep_a]
    gy = pd.factorize(groups[1])[0][keep_b]
    return d, d > cluster_noise_bound(x, gx, y, gy, statistic)


def kind_of(series):
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "time"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    return "text"


def as_numbers(series):
    s = series.dropna()
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.astype("datetime64[us]").astype("int64").to_numpy() / 1e6
    if s.dtype == object:
        # Dates as Python objects (e.g. from Parquet date32).
        try:
            return pd.to_datetime(s).astype("datetime64[us]").astype("int64").to_numpy() / 1e6
        except (TypeError, ValueError):
            return pd.to_numeric(s, errors="coerce").dropna().to_numpy(dtype=float)
    return s.to_numpy(dtype=float)


def fmt(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def own_notes(gen):
    """Notes for what a column's own strategy does differently."""
    notes = []
    st = gen.get("strategy")
    if st == "temporal" and gen.get("pattern") == "trading_days":
        notes.append(NOTES[("strategy", "trading_days")])
    if st == "foreign_key" and (gen.get("distribution") == "pareto"):
        notes.append(NOTES[("strategy", "pareto_fk")])
    if st == "distribution" and ("round" in gen or "round" in (gen.get("params") or {})):
        notes.append(NOTES[("strategy", "round")])
    if st in ("reference_data", "record_sample") and gen.get("weight_field"):
        notes.append(NOTES[("strategy", "weight_field")])
    if st == "foreign_key" and gen.get("distribution") == "zipf":
        notes.append(NOTES[("strategy", "zipf_fk")])
    return notes


class Notes:
    """The deliberate departures behind each column: its own, and those of the columns it
    reads (a lookup through a skewed key, a formula over a rounded column, a parent's sum
    over its children), so a flag downstream of a departure names it."""

    def __init__(self, schema):
        self.schema = schema
        self.rules = {}
        for r in schema.get("business_rules", []):
            text = " ".join(str(r.get(k, "")) for k in ("rule", "left", "right", "later", "earlier"))
            for t in schema["tables"]:
                for c in schema["tables"][t]["columns"]:
                    if c in text.replace(".", " ").split():
                        self.rules[(t, c)] = True
        self.ratios = {t: d.get("ratio", 0) for t, d in schema["generation"].get("derived_counts", {}).items()
                       if "per_parent" in d}
        self.weighted = {}
        for t, tdef in schema["tables"].items():
            self.weighted[t] = {c["generator"].get("dataset") for c in tdef["columns"].values()
                                if c.get("generator", {}).get("strategy") == "record_sample"
                                and c["generator"].get("weight_field")}
        self.memo = {}

    def floored(self, table):
        """Whether `table` is nested with at least one row per parent (its parent sums it)."""
        return any(c.get("generator", {}).get("strategy") == "computed"
                   and c["generator"].get("child_table") == table and self.ratios.get(table, 0) >= 1
                   for tdef in self.schema["tables"].values() for c in tdef["columns"].values())

    def of(self, table, col):
        key = (table, col)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = []
        columns = self.schema["tables"][table]["columns"]
        gen = columns.get(col, {}).get("generator", {})
        notes = own_notes(gen)
        st = gen.get("strategy")
        if st == "record_field" and gen.get("dataset") in self.weighted[table]:
            notes.append(NOTES[("strategy", "weight_field")])
        if self.rules.get(key):
            notes.append(NOTES[("strategy", "rule")])
        read = []
        if st == "lookup":
            via = columns.get(gen.get("via"), {}).get("generator", {})
            if via.get("distribution") in ("zipf", "pareto"):
                notes.append(NOTES[("strategy", "skewed_lookup")])
            read.append((gen["source_table"], gen["source_column"]))
        elif st in ("correlated", "derived"):
            source = gen.get("source_column") or gen.get("source")
            if isinstance(source, str) and source in columns:
                read.append((table, source))
        elif st == "formula":
            words = "".join(ch if ch.isalnum() or ch == "_" else " " for ch in gen.get("expression", "")).split()
            read += [(table, w) for w in words if w in columns and w != col]
        elif st == "computed":
            child = gen["child_table"]
            if self.floored(child):
                notes.append(NOTES[("strategy", "floor")])
            read.append((child, gen["child_column"]))
        elif st == "foreign_key" and self.floored(table) and gen.get("ref", "").split(".")[0] == next(
                (d["per_parent"] for t, d in self.schema["generation"].get("derived_counts", {}).items()
                 if t == table and "per_parent" in d), None):
            notes.append(NOTES[("strategy", "floor")])
        for t, c in read:
            if t in self.schema["tables"] and c in self.schema["tables"][t]["columns"]:
                notes += self.of(t, c)
        unique = list(dict.fromkeys(notes))
        self.memo[key] = unique
        return unique


# How a key spreads over time: distinct parents among a table's first rows by event time
# (a stream's first minutes should not be a handful of customers ordering again and again).
EARLY = (200, 1000)


def event_time(tdef):
    """The table's first timestamp column, its event time when streamed."""
    return next((c for c, d in tdef["columns"].items() if d.get("type") in ("timestamp", "datetime")), None)


def fan_out(child_keys, parent_keys):
    """Children per parent, zeros included, as an integer array over the parent's rows."""
    counts = child_keys.dropna().value_counts()
    return counts.reindex(parent_keys, fill_value=0).to_numpy(dtype=np.int64)


# The report's sections: every domain as built in, and retail twice: through its schema
# file (the schema engine) and by the hand-written generator `spindle stream retail` uses.
BUILT_IN_RETAIL = "retail (built-in generator)"


# Where the built-in Retail generator departs on purpose (its module docs and the Retail
# spec, shared/spec/retail-domain.md).
BUILT_IN_NOTES = {
    ("address", "customer_id"): "the spec's 1..n addresses a customer: one or two each (the reference's uniform key leaves 22% without)",
    ("address", "is_primary"): "the first of one or two addresses a customer (the reference's customers have 0 to 7)",
    ("product", "category_id"): "products belong to leaf categories (the reference puts them under any category, parents too)",
    ("order", "customer_id"): "customers order at one pace from signing up on, so late signups have fewer orders (the reference's counts ignore signup)",
    ("order", "shipping_address_id"): "every order ships to one of its customer's addresses (the reference leaves 25% null: customers without one)",
    ("order", "promotion_id"): "a promotion active on the order's date (the reference picks any promotion, active or not)",
    ("order_line", "promotion_id"): "its order's promotion, active on the order's date (the reference picks any promotion, active or not)",
}


def compare_domain(section, scale, spindle, tmp):
    domain = "retail" if section == BUILT_IN_RETAIL else section
    mod = importlib.import_module(f"sqllocks_spindle.domains.{domain}")
    from sqllocks_spindle import Spindle
    ref = Spindle().generate(domain=getattr(mod, CLASSES[domain])(), scale=scale, seed=42).tables
    out = os.path.join(tmp, section.replace(" ", "_"))
    target = os.path.join(SCHEMAS, "retail", "retail.spindle.json") if section == "retail" else domain
    subprocess.run([spindle, "generate", target, "--scale", scale, "--output", out, "-q", "--force"], check=True)
    schema = json.load(open(os.path.join(SCHEMAS, domain, f"{domain}.spindle.json")))
    notes_of = Notes(schema)
    ours_tables = {t: pq.read_table(os.path.join(out, f"{t}.parquet")).to_pandas() for t in schema["tables"]}
    rows, summary = [], {"tables": 0, "columns": 0, "flagged": 0}
    for table, tdef in schema["tables"].items():
        ours = ours_tables[table]
        theirs = ref[table]
        summary["tables"] += 1
        n_ours, n_ref = len(ours), len(theirs)
        big = min(n_ours, n_ref) >= 1000
        # Each side's first rows by event time, sorted once for all of the table's keys.
        when = event_time(tdef)
        early_rows = None
        if big and when in ours and when in theirs:
            early_rows = [t.sort_values(when, kind="stable").head(max(EARLY)) for t in (ours, theirs)]
        rows.append(f"| **{table}** | rows | | | {n_ours:,} / {n_ref:,} | {'FLAG' if n_ours != n_ref else ''} | |")
        if list(ours.columns) != list(theirs.columns):
            same_names = sorted(ours.columns) == sorted(theirs.columns)
            rows.append(f"| {table} | columns | | | {', '.join(ours.columns)} / {', '.join(theirs.columns)} | "
                        + ("| the schema's declared order (the reference writes columns in generation order) |"
                           if same_names else "FLAG | names differ |"))
        for col, cdef in tdef["columns"].items():
            if col not in ours or col not in theirs:
                continue
            summary["columns"] += 1
            a, b = ours[col], theirs[col]
            gen = cdef.get("generator", {})
            notes = list(notes_of.of(table, col))
            if section == BUILT_IN_RETAIL and (table, col) in BUILT_IN_NOTES:
                notes.insert(0, BUILT_IN_NOTES[(table, col)])
            flags = []
            null_a, null_b = a.isna().mean(), b.isna().mean()
            if nulls_apart(len(a), len(b), null_a, null_b):
                flags.append("nulls")
            st = gen.get("strategy")
            identifier = st in ("sequence", "uuid", "pattern") or (
                b.dropna().nunique() > 0.5 * max(1, b.notna().sum()) and kind_of(b) == "text")
            stats = ""
            if st == "foreign_key":
                parent, key = gen["ref"].split(".")
                keys_a, keys_b = ours_tables[parent][key], ref[parent][key]
                if pd.api.types.is_numeric_dtype(keys_a):
                    a_keys, b_keys = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
                    keys_a, keys_b = keys_a.astype(float), pd.to_numeric(keys_b, errors="coerce").astype(float)
                else:
                    a_keys, b_keys = a, b
                x, y = fan_out(a_keys, keys_a), fan_out(b_keys, keys_b)
                k = int(max(x.max(initial=0), y.max(initial=0))) + 1
                d = tvd_codes(x, y, k) if len(x) and len(y) else float("nan")
                stats = (f"per parent mean {x.mean():.2f}/{y.mean():.2f}, max {x.max(initial=0)}/{y.max(initial=0)}, "
                         f"none {np.mean(x == 0):.3f}/{np.mean(y == 0):.3f}, fan-out TVD {d:.3f}")
                if min(len(x), len(y)) >= 30 and d > 0.05 and d > noise_bound(x, y, lambda p, q: tvd_codes(p, q, k)):
                    flags.append("fan-out")
                if early_rows is not None:
                    early = [tuple(int(t.head(k)[col].nunique()) for t in early_rows) for k in EARLY]
                    stats += "; first " + ", ".join(f"{k:,} by {when}: {p}/{q} parents" for k, (p, q) in zip(EARLY, early))
                    if any(p < 0.75 * q for p, q in early):
                        flags.append("early spread")
                        # Which rows come first depends on how a rule moved the event time.
                        for note in notes_of.of(table, when):
                            if note == NOTES[("strategy", "rule")] and note not in notes:
                                notes.append(note)
            elif identifier:
                stats = f"distinct {a.nunique():,} / {b.nunique():,}"
            elif kind_of(b) in ("text", "bool") or b.dropna().nunique() <= 30:
                # A lookup copies its parent's value to the parent's rows: rows of one
                # parent are not independent samples, whole parents are.
                groups = (ours[gen["via"]], theirs[gen["via"]]) if st == "lookup" else None
                d, departs = tvd(a, b, big, groups)
                stats = f"TVD {d:.3f}"
                if departs:
                    flags.append("TVD")
            else:
                x, y = as_numbers(a), as_numbers(b)
                if cdef.get("type") == "integer" and len(y) and np.any(y != np.floor(y)):
                    notes.append(NOTES[("strategy", "integer")])
                if len(x) and len(y):
                    mean_x, mean_y = float(np.mean(x)), float(np.mean(y))
                    spread = float(np.max(y) - np.min(y)) or 1.0
                    # Instants are compared against their span (an epoch-relative mean means nothing).
                    base = spread if kind_of(b) == "time" or abs(mean_y) < 1e-9 * spread else abs(mean_y)
                    rel = abs(mean_x - mean_y) / base if base else 0.0
                    k = ks(x, y)
                    if kind_of(b) == "time":
                        show = lambda v: pd.to_datetime(v, unit="s").strftime("%Y-%m-%d")
                        stats = (f"min {show(np.min(x))}/{show(np.min(y))}, max {show(np.max(x))}/{show(np.max(y))}, "
                                 f"mean {show(mean_x)}/{show(mean_y)}, KS {k:.3f}")
                    else:
                        stats = (f"min {fmt(float(np.min(x)))}/{fmt(float(np.min(y)))}, max {fmt(float(np.max(x)))}/"
                                 f"{fmt(float(np.max(y)))}, mean {fmt(mean_x)}/{fmt(mean_y)}, KS {k:.3f}")
                    if big and rel > 0.05 and abs(mean_x - mean_y) > noise_bound(x, y, mean_gap):
                        flags.append("mean")
                    if big and k > 0.1:
                        flags.append("KS")
            if flags:
                summary["flagged"] += 1
                if not notes:
                    summary["unexplained"] = summary.get("unexplained", 0) + 1
            types = f"{ours[col].dtype} / {theirs[col].dtype}"
            rows.append(f"| {table} | {col} | {null_a:.3f} / {null_b:.3f} | {types} | {stats} | "
                        f"{'FLAG ' + ','.join(flags) if flags else ''} | {'; '.join(notes)} |")
    return rows, summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spindle", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--scale", default="small")
    ap.add_argument("--domains", default=",".join([*CLASSES, BUILT_IN_RETAIL]))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    body, summaries = [], []
    for domain in a.domains.split(","):
        print(f"{domain} ...", flush=True)
        rows, summary = compare_domain(domain, a.scale, a.spindle, tmp)
        summaries.append((domain, summary))
        body += [f"## {domain}", "",
                 "| table | column | null rate | types | statistics | flag | note |",
                 "|---|---|---|---|---|---|---|"] + rows + [""]
    head = ["# Fidelity: Spindle's domains beside the reference's", "",
            f"`benches/fidelity.sh --scale {a.scale}`: every domain generated at `{a.scale}` (seed 42) by the reference "
            "(sqllocks-spindle 3.0.0) and by Spindle (the domains built in, and retail twice: through its schema file, "
            f"and as `{BUILT_IN_RETAIL}`, the hand-written generator `spindle stream retail` sends), compared "
            "column by column. Statistics read `Spindle / reference`.", "",
            "Flags: TVD > 0.05 on categorical columns; |mean difference| > 5% (of the range, for instants) or KS > 0.1 on numeric and temporal "
            "columns; null rates more than 0.02 apart; distribution flags only on tables of 1,000+ rows. A seed gives each "
            "tool its own draws, so a TVD, mean or null-rate difference is flagged only where it is also beyond sampling "
            "noise: beyond the 99.9th percentile of the same statistic between random halves of the two samples pooled "
            f"({PERMUTATIONS} permutations; whole parents for a column copied from its parent), and null rates beyond 3.29 "
            "standard errors: at that level about one of the report's 900 columns is flagged by chance. Foreign keys are compared by "
            "fan-out (children per parent, zeros included: mean, max, share of parents without children, TVD of the "
            "distribution), not by key values, which name each tool's own parent rows; for a table with an event time, "
            "also by how they spread over time: the distinct parents among its first 200 and 1,000 rows by event time "
            "(flagged below 0.75 of the reference's). Identifier-like columns "
            "(sequences, patterns, near-unique text) are compared by distinct count only. A note names the deliberate "
            "departure behind a row, its own or one of a column it reads.", "",
            "| domain | tables | columns | flagged columns | flagged without a note |", "|---|---|---|---|---|"]
    for d, s in summaries:
        head.append(f"| {d} | {s['tables']} | {s['columns']} | {s['flagged']} | {s.get('unexplained', 0)} |")
    open(a.out, "w").write("\n".join(head + [""] + body))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
